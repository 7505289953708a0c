"""Compare the read model with a fold of the event store, one stream at a time.

fold(events) is pure: the fields each document should hold after ``events`` (the projections'
own changes, applied in memory). differences(expected, found) is pure too. check(...) reads.
"""

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from cqrs_shared.contracts import Difference, EventEnvelope, StreamCheck
from query_service import layout
from query_service.layout import Document
from query_service.projections import Numbered, project
from query_service.store import ReadStore, field_of

DocKey = tuple[str, str]  # (collection, id)


@dataclass
class Expected:
    fields: dict[str, Any] = field(default_factory=dict)  # dotted path -> value
    gate: tuple[str, int] = ("", 0)  # (path, version) of the last change
    numbered: Numbered | None = None


def fold(events: list[EventEnvelope]) -> dict[DocKey, Expected]:
    expected: dict[DocKey, Expected] = defaultdict(Expected)
    for envelope in sorted(events, key=lambda item: item.version):
        for change in project(envelope):
            doc = expected[(change.collection, change.doc_id)]
            doc.fields.update(change.fields)
            doc.fields[change.gate] = change.version
            doc.gate = (change.gate, change.version)
            doc.numbered = change.numbered or doc.numbered
    return dict(expected)


def ahead(expected: dict[DocKey, Expected], found: dict[DocKey, Document]) -> bool:
    """Whether the read model already holds events after the fold's (they came in meanwhile)."""
    for key, doc in expected.items():
        have = field_of(found.get(key), doc.gate[0])
        if isinstance(have, int) and have > doc.gate[1]:
            return True
    return False


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


def check(
    stream_id: UUID,
    events: list[EventEnvelope],
    expected: dict[DocKey, Expected],
    found: dict[DocKey, Document],
) -> StreamCheck:
    version = max((item.version for item in events), default=0)
    return StreamCheck(
        stream_id=stream_id,
        version=version,
        documents=len(expected),
        differences=differences(expected, found),
    )
