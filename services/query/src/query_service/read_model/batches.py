"""Many events' changes in few writes: each document's run of changes as one.

A catch-up applies an owner's events a page at a time (100 deposits of one account: 400 changes,
one write each), and the live projector the events of one owner that queued while it was busy
(projection/projector.py). Consecutive changes of one document under one gate become one change
(its fields merged, later ones winning, from the first's expected gate to the last's version), the
lines of a history bucket one write (when none of their gates is there yet), and new ledger
documents go in one insert. Measured on FerretDB (bench/catch_up.py, docs/projection.md).

applied = await apply_batch(store, changes)   # False: something was ahead or behind; apply one by one

Only a change that applies whole counts: a document ahead of the run (a redelivered event got
there first), behind it, or partly there, and the caller applies the changes one by one, which the
version gates make exact.

The writes keep the order one event's changes take (projections.py): history buckets, then ledger
entries, then the customer's and the account's documents, whose version a query's consistency
token checks (layout.POSITIONS). So a reader that sees a stream at version N finds every change of
events up to N, as when events are applied one at a time; it never sees the versions in between.
"""

from collections.abc import Iterable
from dataclasses import replace

from pymongo.errors import BulkWriteError, DuplicateKeyError

from query_service.read_model import layout
from query_service.read_model.changes import DocumentChange
from query_service.read_model.layout import Document
from query_service.read_model.store import Applied, ReadStore, nested

# New documents of these collections are inserted together: nothing caches them, each is written
# once, and a duplicate is told apart by its key.
INSERTED = frozenset({layout.LEDGER})
INSERT_BATCH = 100
DUPLICATE_KEY = 11000


async def apply_batch(store: ReadStore, changes: list[DocumentChange]) -> bool:
    """Apply ``changes`` (one owner's events', in order); False if any did not apply whole."""
    shared: dict[tuple[str, str], list[DocumentChange]] = {}
    for change in changes:
        if _sharable(change):
            shared.setdefault((change.collection, change.doc_id), []).append(change)
    for (name, doc_id), together in shared.items():
        if not await _fill_shared(store, name, doc_id, together):
            return False
    whole = True
    inserts = [c for c in changes if _insertable(c)]
    for change in await _insert(store, inserts):
        whole = await store.apply(change) is Applied.APPLIED and whole
    for run in _runs(c for c in changes if not _insertable(c) and not _sharable(c)):
        outcome = await store.apply(_merged(run))
        if outcome is not Applied.APPLIED:
            return False
    return whole


def _insertable(change: DocumentChange) -> bool:
    return change.collection in INSERTED and change.version == 1 and not change.shared


def _sharable(change: DocumentChange) -> bool:
    """A change of a document many changes fill, each under a gate of its own (a history bucket)."""
    return change.shared and change.version == 1 and change.numbered is None and change.after is None


async def _fill_shared(store: ReadStore, name: str, doc_id: str, changes: list[DocumentChange]) -> bool:
    """All of ``changes`` in one write, if none of their gates is there yet; False if one is."""
    fields: Document = {}
    for change in changes:
        fields.update(change.fields)
        fields[change.gate] = change.version
    where = {layout.ID: doc_id, **{change.gate: {"$exists": False} for change in changes}}
    collection = store.collection(name)
    if (await collection.update_one(where, {"$set": fields})).matched_count:
        return True
    try:
        await collection.insert_one({layout.ID: doc_id, **nested(fields)})
    except DuplicateKeyError:
        return False  # there, with one of the gates (or made meanwhile): one by one decides
    return True


def _runs(changes: Iterable[DocumentChange]) -> list[list[DocumentChange]]:
    """Each document's changes under one gate, in order, split where a version is skipped or a
    change is shared or numbered (those go alone)."""
    runs: dict[tuple[str, str, str], list[list[DocumentChange]]] = {}
    for change in changes:
        key = (change.collection, change.doc_id, change.gate)
        mine = runs.setdefault(key, [])
        last = mine[-1][-1] if mine else None
        joins = last is not None and _plain(last) and _plain(change) and change.version == last.version + 1
        if joins:
            mine[-1].append(change)
        else:
            mine.append([change])
    return [run for per_key in runs.values() for run in per_key]


def _plain(change: DocumentChange) -> bool:
    return not change.shared and change.numbered is None and change.after is None


def _merged(run: list[DocumentChange]) -> DocumentChange:
    if len(run) == 1:
        return run[0]
    fields = {}
    for change in run:
        fields.update(change.fields)
    # The first change says whether the document exists already (an opening fills the customer's).
    return replace(run[-1], fields=fields, after=run[0].version - 1, fills=run[0].fills)


async def _insert(store: ReadStore, changes: list[DocumentChange]) -> list[DocumentChange]:
    """Insert the new documents; those that exist already (or failed) come back, to apply alone."""
    back: list[DocumentChange] = []
    for start in range(0, len(changes), INSERT_BATCH):
        batch = changes[start : start + INSERT_BATCH]
        by_collection: dict[str, list[DocumentChange]] = {}
        for change in batch:
            by_collection.setdefault(change.collection, []).append(change)
        for name, mine in by_collection.items():
            docs = [{layout.ID: c.doc_id, **nested({**c.fields, c.gate: c.version})} for c in mine]
            try:
                await store.collection(name).insert_many(docs, ordered=False)
            except BulkWriteError as error:
                failed = {item["index"] for item in error.details.get("writeErrors", [])}
                back += [mine[index] for index in sorted(failed)]
    return back
