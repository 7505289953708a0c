"""Compare the read model with a fold of the event store, one stream at a time, a page at a time.

Fold is pure: the fields each document should hold after the events folded so far (the projections'
own changes, applied in memory); a document the last page did not change is compared and let go, so
a stream of any length is verified in the memory of one page (issue 20: it held the whole stream,
~3.5 KB an event). differences(expected, found) is pure too; stored(...) reads.
"""

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from cqrs_contracts import Difference, EventEnvelope, StreamCheck
from query_service.projection.projections import project
from query_service.read_model import layout
from query_service.read_model.changes import Numbered
from query_service.read_model.layout import Document, field_of
from query_service.read_model.store import ReadStore

DocKey = tuple[str, str]  # (collection, id)


@dataclass
class Expected:
    fields: dict[str, Any] = field(default_factory=dict)  # dotted path -> value
    gate: tuple[str, int] = ("", 0)  # (path, version) of the last change
    numbered: Numbered | None = None


# A reply is at most 1 MB (MAX_REPLY_BYTES): a read model wrong everywhere is told by its count.
MAX_LISTED_DIFFERENCES = 1_000


@dataclass
class Fold:
    """The documents a stream's events change, folded a page at a time; those compared are let go."""

    stream_id: UUID
    version: int = 0
    open: dict[DocKey, Expected] = field(default_factory=dict)
    changed: set[DocKey] = field(default_factory=set)  # by the last page
    compared: set[DocKey] = field(default_factory=set)
    found: list[Difference] = field(default_factory=list)
    differences_found: int = 0
    # The projector is given its usual bound to catch up once in a verify: once it stayed behind,
    # the fold is compared as it is, so a verify lasts at most one bound more than its reads.
    settling: bool = True

    def add(self, page: list[EventEnvelope]) -> None:
        self.changed = set()
        for envelope in sorted(page, key=lambda item: item.version):
            for change in project(envelope):
                key = (change.collection, change.doc_id)
                doc = self.open.setdefault(key, Expected())
                doc.fields.update(change.fields)
                doc.fields[change.gate] = change.version
                doc.gate = (change.gate, change.version)
                doc.numbered = change.numbered or doc.numbered
                self.changed.add(key)
            self.version = max(self.version, envelope.version)

    def unchanged(self) -> dict[DocKey, Expected]:
        """The open documents the last page did not change: the only ones a later page may not."""
        return {key: doc for key, doc in self.open.items() if key not in self.changed}

    def compare(
        self, expected: dict[DocKey, Expected], found: dict[DocKey, Document], *, final: bool = False
    ) -> None:
        """Compare ``expected`` with what the read model holds, and let them go; except, unless
        ``final``, those the read model holds later events of (compared once those are folded)."""
        for key, doc in expected.items():
            if not final and key in found and _ahead_of(doc, found[key]):
                continue
            for difference in differences({key: doc}, found):
                self.differences_found += 1
                if len(self.found) < MAX_LISTED_DIFFERENCES:
                    self.found.append(difference)
            self.compared.add(key)
            del self.open[key]

    def check(self) -> StreamCheck:
        return StreamCheck(
            stream_id=self.stream_id,
            version=self.version,
            documents=len(self.compared),
            differences=self.found,
            differences_found=self.differences_found,
        )


def ahead(expected: dict[DocKey, Expected], found: dict[DocKey, Document]) -> bool:
    """Whether the read model already holds events after the fold's (they came in meanwhile)."""
    return any(key in found and _ahead_of(doc, found[key]) for key, doc in expected.items())


def _ahead_of(doc: Expected, stored: Document) -> bool:
    have = field_of(stored, doc.gate[0])
    return isinstance(have, int) and have > doc.gate[1]


def differences(expected: dict[DocKey, Expected], found: dict[DocKey, Document]) -> list[Difference]:
    found_differences: list[Difference] = []
    for (collection, doc_id), doc in sorted(expected.items()):
        stored = found.get((collection, doc_id))
        where = f"{collection}/{doc_id}"
        for path, value in sorted(doc.fields.items()):
            have = field_of(stored, path)
            if stored is None or _canonical(have) != _canonical(value):
                found_differences.append(
                    Difference(document=where, field=path, expected=_text(value), found=_text(have))
                )
        if doc.numbered is not None and stored is not None:
            found_differences += _numbering(where, doc.numbered, stored)
    return found_differences


def _numbering(where: str, numbered: Numbered, stored: Document) -> list[Difference]:
    """A numbered document's number is the store's to give; it must have one, in its bucket."""
    seq, bucket = stored.get(numbered.seq_field), stored.get(numbered.bucket_field)
    if isinstance(seq, int) and bucket == seq // layout.BUCKET_SIZE:
        return []
    wanted = f"a number and its bucket (number // {layout.BUCKET_SIZE})"
    return [Difference(document=where, field=numbered.seq_field, expected=wanted, found=_text([seq, bucket]))]


def _canonical(value: Any) -> Any:
    """As the server keeps it: times in UTC to the millisecond."""
    if isinstance(value, datetime):
        value = value.astimezone(UTC)
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    return value


def _text(value: Any) -> str | None:
    if value is None:
        return None
    value = _canonical(value)
    return value.isoformat() if isinstance(value, datetime) else json.dumps(value, default=str)


async def stored(store: ReadStore, expected: dict[DocKey, Expected]) -> dict[DocKey, Document]:
    """The read model's documents of ``expected``, read by id."""
    ids: dict[str, list[str]] = defaultdict(list)
    for collection, doc_id in expected:
        ids[collection].append(doc_id)
    found: dict[DocKey, Document] = {}
    for collection, wanted in ids.items():
        for doc_id, doc in (await store.documents(collection, wanted)).items():
            found[(collection, doc_id)] = doc
    return found
