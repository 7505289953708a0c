"""Bring a read model written by an older layout up to this one, once, at start-up.

Layout 2 added the buckets that keep pages flat (layout.BUCKET_SIZE): a preferred customer's number
and bucket, and a transaction's history bucket, which layout 3 made one document holding its
transactions; layout 4 added the typed ledger, a document per transaction. Documents from older
layouts are brought up here, so that an existing read model keeps answering without a rebuild
(`cqrs projection rebuild` makes it afresh in the latest layout). The layout reached is recorded;
a read model already there costs one lookup.
"""

import logging
from datetime import datetime

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from query_service.read_model import layout
from query_service.read_model.changes import PREFERRED_LIST
from query_service.read_model.layout import Document
from query_service.read_model.limits.bulk_writes import BATCH, write_in_batches
from query_service.read_model.limits.no_decimal128 import ledger_fields
from query_service.read_model.store import ReadStore

log = logging.getLogger(__name__)


async def upgrade_layout(db: AsyncDatabase[Document], generation: int = 0) -> int:
    """Upgrade ``generation`` where older than layout.LAYOUT_VERSION; returns how many documents changed."""
    counters = db[layout.named(layout.COUNTERS, generation)]
    recorded = await counters.find_one({layout.ID: layout.LAYOUT})
    if recorded is not None and recorded.get(layout.COUNTER_VALUE, 0) >= layout.LAYOUT_VERSION:
        return 0
    changed = await _history_buckets(db, generation) + await _preferred_numbers(db, generation)
    changed += await _ledger(db, generation)
    await mark_layout(db, generation)
    if changed:
        log.info("read model upgraded to layout %d: %d document(s)", layout.LAYOUT_VERSION, changed)
    return changed


async def _history_buckets(db: AsyncDatabase[Document], generation: int) -> int:
    """Move each transaction document of layouts 1 and 2 (one per transaction) into its bucket's:
    one write per bucket (two writes of one document in a bulk write could wait on each other)."""
    transactions = db[layout.named(layout.TRANSACTIONS, generation)]
    old = {layout.ACCOUNT_VERSION: {"$exists": True}}  # a bucket keeps it only inside its items
    buckets: dict[str, Document] = {}
    moved = 0
    async for doc in transactions.find(old):
        version, account = int(doc[layout.ACCOUNT_VERSION]), doc[layout.ACCOUNT_ID]
        bucket = buckets.setdefault(layout.history_bucket(account, layout.bucket_of(version)), {})
        bucket.update({layout.ACCOUNT_ID: account, **_item(doc, version)})
        moved += 1
    updates = [UpdateOne({layout.ID: key}, {"$set": fields}, upsert=True) for key, fields in buckets.items()]
    await _write(db, layout.named(layout.TRANSACTIONS, generation), updates)
    await transactions.delete_many(old)
    return moved


async def _ledger(db: AsyncDatabase[Document], generation: int) -> int:
    """Layout 4: the typed ledger document of every transaction the history buckets hold (the
    account gives its currency and customer; an upsert each, so a second run changes nothing)."""
    accounts = db[layout.named(layout.ACCOUNTS, generation)]
    ledger = db[layout.named(layout.LEDGER, generation)]
    typed = {layout.CURRENCY: {"$exists": True}, layout.CUSTOMER_ID: {"$exists": True}}
    owners = {doc[layout.ID]: doc async for doc in accounts.find(typed)}
    written, batch = 0, list[UpdateOne]()
    async for bucket in db[layout.named(layout.TRANSACTIONS, generation)].find(
        {layout.ITEMS: {"$exists": True}}
    ):
        account_id = str(bucket.get(layout.ACCOUNT_ID))
        owner = owners.get(account_id)
        if owner is None:
            continue  # no account opened here to type it with (left to a rebuild)
        for version, line in layout.history_items(bucket):
            item = layout.transaction_view(version, line)
            fields = ledger_fields(account_id, owner[layout.CUSTOMER_ID], owner[layout.CURRENCY], item)
            entry = layout.ledger_entry(account_id, version)
            batch.append(UpdateOne({layout.ID: entry}, {"$set": fields}, upsert=True))
        if len(batch) >= BATCH:
            written += await _flush(ledger, batch)
    return written + await _flush(ledger, batch)


async def _flush(collection: AsyncCollection[Document], batch: list[UpdateOne]) -> int:
    """Write ``batch`` and empty it; how many it held."""
    count = len(batch)
    await write_in_batches(collection, batch)
    batch.clear()
    return count


def _item(transaction: Document, version: int) -> Document:
    at = transaction[layout.AT]
    when = at if isinstance(at, datetime) else datetime.fromisoformat(at)
    line = layout.encode_transaction(
        transaction[layout.KIND], transaction[layout.AMOUNT], transaction[layout.BALANCE_AFTER], when
    )
    return {layout.history_item(version): line, layout.history_gate(version): 1}


async def mark_layout(db: AsyncDatabase[Document], generation: int) -> None:
    """Record that ``generation`` follows this layout (a new generation does from its start)."""
    await db[layout.named(layout.COUNTERS, generation)].update_one(
        {layout.ID: layout.LAYOUT}, {"$set": {layout.COUNTER_VALUE: layout.LAYOUT_VERSION}}, upsert=True
    )


async def _preferred_numbers(db: AsyncDatabase[Document], generation: int) -> int:
    """Number the preferred customers that have no number yet, in id order, after those that do."""
    where = {layout.IS_PREFERRED: True, layout.PREFERRED_SEQ: {"$exists": False}}
    ids = sorted(
        [
            doc[layout.ID]
            async for doc in db[layout.named(layout.CUSTOMERS, generation)].find(where, {layout.ID: 1})
        ]
    )
    if not ids:
        return 0
    first = await ReadStore(db, generation).lists.numbers.reserve(PREFERRED_LIST.counter, len(ids))
    updates = [
        UpdateOne({layout.ID: doc_id}, {"$set": PREFERRED_LIST.numbers(seq)})
        for seq, doc_id in enumerate(ids, start=first)
    ]
    await _write(db, layout.named(layout.CUSTOMERS, generation), updates)
    return len(updates)


async def _write(db: AsyncDatabase[Document], collection: str, updates: list[UpdateOne]) -> None:
    await write_in_batches(db[collection], updates)
