"""The MongoDB adapter: version-gated document updates and the reads the queries need.

async with open_database(url, "cqrs_read") as db:
    store = ReadStore(db)
    await store.ensure_indexes()
"""

import asyncio
import base64
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, TypeVar
from uuid import UUID

from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from cqrs_shared.contracts import AccountView, CustomerView, StreamType, TransactionView
from query_service import metrics
from query_service.read_model import layout
from query_service.read_model.cache import ViewCache
from query_service.read_model.changes import DocumentChange, Numbered
from query_service.read_model.layout import Document

T = TypeVar("T")
DUPLICATE_KEY = 11000
# Stream positions this process saw applied, kept per generation (at most this many, then forgotten).
KNOWN_POSITIONS = 100_000


@asynccontextmanager
async def open_database(url: str, name: str) -> AsyncIterator[AsyncDatabase[Document]]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(url, tz_aware=True, uuidRepresentation="standard")
    async with client:
        yield client[name]


class Applied(Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Gap:
    """The document is behind: it holds ``current``, the change needs ``version - 1``."""

    current: int


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next: str | None


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, parse: Callable[[str], T]) -> T:
    """An opaque cursor back to what it continues after; anything else raises ValueError."""
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        return parse(raw.decode())
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"not a cursor this service issued: {cursor!r}") from None


def in_range(value: int, low: int, high: int) -> int:
    """``value`` from a cursor, if the service could have issued it (``low`` to ``high``); a forged
    one far outside made a page read bucket after bucket (81 s for one query; issue 20)."""
    if not low <= value <= high:
        raise ValueError(f"not a cursor this service issued: position {value} is outside {low}..{high}")
    return value


def buckets_per_page(limit: int) -> int:
    """The most buckets one page reads: enough for ``limit`` items and a few sparse buckets; a page
    that stops there ends with a cursor where it stopped."""
    return limit // layout.BUCKET_SIZE + 3


def _uuid_text(value: str) -> str:
    return str(UUID(value))


def field_of(doc: Document | None, path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


class ReadStore:
    """One generation of the read model (layout.named): generation 0 unless a rebuild made another."""

    def __init__(self, db: AsyncDatabase[Document], generation: int = 0) -> None:
        self.db = db
        self.generation = generation
        self._customers = self._collection(layout.CUSTOMERS)
        self._accounts = self._collection(layout.ACCOUNTS)
        self._transactions = self._collection(layout.TRANSACTIONS)
        self._counting = asyncio.Lock()
        # While a rebuild fills this generation, a customer that becomes preferred is not numbered at
        # once (streams arrive in id order, not in time order): number_deferred numbers them all, in
        # the order they became preferred, once every stream is in.
        self.defer_numbers = False
        # stream id -> a version this generation is known to hold: a position only grows, so what this
        # process applied (or read) spares a read when a query waits for it (consistency.py).
        self._known: dict[UUID, int] = {}
        # Views by (collection, id), used while this generation is the one queries read and this
        # process projects (ReadModel hands its cache to the current store; cache.py says why).
        self.cache: ViewCache[CustomerView | AccountView] = ViewCache(0)

    def saw(self, stream_id: UUID, version: int) -> None:
        """This generation holds ``stream_id`` at ``version`` at least (applied, or read)."""
        if version <= self._known.get(stream_id, 0):
            return
        if len(self._known) >= KNOWN_POSITIONS and stream_id not in self._known:
            self._known.clear()
        self._known[stream_id] = version

    def known(self, stream_id: UUID) -> int:
        """A version this generation holds ``stream_id`` at, without a read (0 when none is known)."""
        return self._known.get(stream_id, 0)

    def _collection(self, name: str) -> AsyncCollection[Document]:
        return self.db[layout.named(name, self.generation)]

    async def ensure_indexes(self) -> None:
        for collection, keys in layout.INDEXES:
            await self._collection(collection).create_index(keys)

    async def drop(self) -> None:
        """Remove every collection of this generation."""
        self.cache.clear()
        for name in layout.GENERATION_COLLECTIONS:
            await self._collection(name).drop()

    async def documents(self, collection: str, ids: list[str]) -> dict[str, Document]:
        """The stored documents of ``collection`` with these ids, by id (absent ones left out)."""
        found = [await self._collection(collection).find_one({layout.ID: doc_id}) for doc_id in ids]
        return {doc[layout.ID]: doc for doc in found if doc is not None}

    async def number_deferred(self, collection: str, numbered: Numbered) -> int:
        """Stop deferring; number the documents of ``collection`` that wait for a number in
        ``numbered``'s list, in the order they joined it (one pass; call again until it finds none,
        for applies in flight when it began). Returns how many it numbered."""
        self.defer_numbers = False
        where = {numbered.waiting_field: {"$exists": True}}
        documents = self._collection(collection)
        waiting = sorted(
            [(doc[numbered.waiting_field], doc[layout.ID]) async for doc in documents.find(where)]
        )
        first = await self.reserve(numbered.counter, len(waiting)) if waiting else 0
        for seq, (_, doc_id) in enumerate(waiting, start=first):
            with self.cache.writing((collection, doc_id)):
                await documents.update_one(
                    {layout.ID: doc_id},
                    {"$set": numbered.numbers(seq), "$unset": {numbered.waiting_field: ""}},
                )
        return len(waiting)

    async def apply(self, change: DocumentChange) -> Applied | Gap:
        """Apply ``change`` if the document is at ``version - 1``; say what happened otherwise."""
        with self.cache.writing((change.collection, change.doc_id)):
            return await self._apply(change)

    async def _apply(self, change: DocumentChange) -> Applied | Gap:
        collection = self._collection(change.collection)
        update = {"$set": {**change.fields, change.gate: change.version}}
        if change.numbered is not None and self.defer_numbers:
            update["$set"][change.numbered.waiting_field] = change.fields[layout.UPDATED_AT]
        elif change.numbered is not None:
            update["$set"].update(change.numbered.numbers(await self.reserve(change.numbered.counter, 1)))
        if change.version == 1:
            return await self._create(change, update)
        result = await collection.update_one(
            {layout.ID: change.doc_id, change.gate: change.version - 1}, update
        )
        if result.matched_count:
            return Applied.APPLIED
        current = await self.version(change.collection, change.doc_id, change.gate)
        return Applied.DUPLICATE if current >= change.version else Gap(current)

    async def _create(self, change: DocumentChange, update: Document) -> Applied:
        """Insert the document; if it exists already (made by another stream's event), fill it in.
        A shared document is filled in first, and made only where that finds none."""
        collection = self._collection(change.collection)
        where = {layout.ID: change.doc_id, change.gate: {"$exists": False}}
        if change.shared and (await collection.update_one(where, update)).matched_count:
            return Applied.APPLIED
        try:
            await collection.insert_one({layout.ID: change.doc_id, **_nested(update["$set"])})
            return Applied.APPLIED
        except DuplicateKeyError:
            pass
        result = await collection.update_one(where, update)
        return Applied.APPLIED if result.matched_count else Applied.DUPLICATE

    async def reserve(self, counter: str, count: int) -> int:
        """Take ``count`` numbers of ``counter`` (0, 1, 2, ...); the first of them.

        Each number is claimed by inserting a document of its own: the server's unique _id lets one
        insert of it succeed, whichever process tries, where an $inc that the server reads and
        rewrites (FerretDB v1) could hand one number to two partitions' replicas. A claim that
        collides gives up the numbers it took (a hole, harmless to the pages) and claims higher.
        """
        async with self._counting:
            counters = self._collection(layout.COUNTERS)
            first = await self._last_number(counter) + 1
            while True:
                claims = [{layout.ID: layout.claim(counter, first + n)} for n in range(count)]
                try:
                    await counters.insert_many(claims, ordered=True)
                    break
                except BulkWriteError as error:
                    if any(item.get("code") != DUPLICATE_KEY for item in error.details["writeErrors"]):
                        raise
                    first += int(error.details["nInserted"]) + 1
            await self._count_up_to(counter, first + count)
        return first

    async def _count_up_to(self, counter: str, value: int) -> None:
        """The counter itself says how far numbering went, at least (two writers may each set it)."""
        counters = self._collection(layout.COUNTERS)
        update = {"$max": {layout.COUNTER_VALUE: value}}
        try:
            await counters.update_one({layout.ID: counter}, update, upsert=True)
        except DuplicateKeyError:  # two processes made the counter at once: it exists now
            await counters.update_one({layout.ID: counter}, update)

    async def _last_number(self, counter: str) -> int:
        """The last number ``counter`` handed out; -1 before the first. The counter's value, and
        beyond it the claims of numbers another process took and has not counted yet."""
        counters = self._collection(layout.COUNTERS)
        value = field_of(await counters.find_one({layout.ID: counter}), layout.COUNTER_VALUE)
        last = value - 1 if isinstance(value, int) else -1
        while await counters.find_one({layout.ID: layout.claim(counter, last + 1)}) is not None:
            last += 1
        return last

    async def version(self, collection: str, doc_id: str, gate: str) -> int:
        value = field_of(await self._collection(collection).find_one({layout.ID: doc_id}, {gate: 1}), gate)
        return value if isinstance(value, int) else 0

    async def position(self, stream_type: StreamType, stream_id: UUID) -> int:
        """The version of a stream the view has fully applied."""
        collection, gate = layout.POSITIONS[stream_type]
        version = await self.version(collection, str(stream_id), gate)
        self.saw(stream_id, version)
        return version

    async def customer(self, customer_id: UUID) -> CustomerView | None:
        view = await self._view(self._customers, layout.CUSTOMERS, str(customer_id), layout.customer_view)
        return view if isinstance(view, CustomerView) else None

    async def account(self, account_id: UUID) -> AccountView | None:
        view = await self._view(self._accounts, layout.ACCOUNTS, str(account_id), layout.account_view)
        return view if isinstance(view, AccountView) else None

    async def _view(
        self,
        documents: AsyncCollection[Document],
        collection: str,
        doc_id: str,
        read: Callable[[Document], CustomerView | AccountView],
    ) -> CustomerView | AccountView | None:
        """The view of one document: from the cache, else read (and kept, unless it changed meanwhile)."""
        key = (collection, doc_id)
        cached = self.cache.get(key)
        if cached is not None:
            metrics.VIEW_HIT.inc()
            return cached
        (metrics.VIEW_MISS if self.cache.enabled else metrics.VIEW_UNCACHED).inc()
        ticket = self.cache.ticket()
        doc = await documents.find_one(layout.exists({layout.ID: doc_id}))
        if doc is None:
            return None
        view = read(doc)
        self.cache.fill(key, view, ticket)
        return view

    async def customers_with_name(self, folded: str, limit: int, after: str | None) -> Page[CustomerView]:
        return await self._customer_page({layout.NAME_FOLDED: folded}, limit, after)

    async def preferred_customers(self, limit: int, after: str | None) -> Page[CustomerView]:
        """Preferred customers in the order they became preferred, read bucket by bucket."""
        top = await self._last_number(layout.PREFERRED_COUNTER)
        last = -1 if after is None else in_range(decode_cursor(after, int), 0, top)
        docs: list[Document] = []
        bucket = (last + 1) // layout.BUCKET_SIZE
        end = min(top // layout.BUCKET_SIZE, bucket + buckets_per_page(limit) - 1)
        # Up to ``limit`` only: the counter tells whether more follow, so no extra bucket is read for it.
        while bucket <= end and len(docs) < limit:
            where = layout.exists({layout.PREFERRED_BUCKET: bucket})
            found = sorted(await self._customers.find(where).to_list(None), key=_by(layout.PREFERRED_SEQ))
            docs += [doc for doc in found if doc[layout.PREFERRED_SEQ] > last]
            bucket += 1
        if not docs and bucket <= top // layout.BUCKET_SIZE:
            # Sparse buckets used up this page's reads: the next page goes on from here.
            return Page([], encode_cursor(str(bucket * layout.BUCKET_SIZE - 1)))
        more = len(docs) > limit or (bool(docs) and docs[-1][layout.PREFERRED_SEQ] < top)
        return _page(docs, limit, layout.PREFERRED_SEQ, layout.customer_view, more)

    async def _customer_page(self, where: Document, limit: int, after: str | None) -> Page[CustomerView]:
        if after is not None:
            where = {**where, layout.ID: {"$gt": decode_cursor(after, _uuid_text)}}
        cursor = self._customers.find(layout.exists(where)).sort(layout.ID, ASCENDING)
        docs = await cursor.limit(limit + 1).to_list(limit + 1)
        return _page(docs, limit, layout.ID, layout.customer_view)

    async def transactions(
        self, account_id: UUID, limit: int, after: str | None, version: int | None = None
    ) -> Page[TransactionView]:
        """An account's transactions, newest first, read bucket by bucket from the newest (the
        account's ``version``, when the caller has it, saves looking it up)."""
        account = str(account_id)
        if version is None:
            version = await self.version(layout.ACCOUNTS, account, layout.VERSION)
        below = version + 1 if after is None else in_range(decode_cursor(after, int), 1, version)
        items: list[tuple[int, str]] = []
        bucket = layout.bucket_of(below - 1)
        last_bucket = max(0, bucket - buckets_per_page(limit) + 1)
        while bucket >= last_bucket and len(items) <= limit:
            found = await self._transactions.find_one({layout.ID: layout.history_bucket(account, bucket)})
            items += sorted((item for item in layout.history_items(found) if item[0] < below), reverse=True)
            bucket -= 1
        shown = items[:limit]
        after = encode_cursor(str(shown[-1][0])) if len(items) > limit else None
        if after is None and bucket >= 0:
            # Sparse buckets used up this page's reads: the next page goes on below them.
            after = encode_cursor(str((bucket + 1) * layout.BUCKET_SIZE))
        return Page([layout.transaction_view(version, line) for version, line in shown], after)


def _by(key: str) -> Callable[[Document], Any]:
    return lambda doc: doc[key]


def _nested(fields: Document) -> Document:
    """Dotted paths as nested documents, for an insert: {"a.b": 1} -> {"a": {"b": 1}}."""
    doc: Document = {}
    for path, value in fields.items():
        *parents, leaf = path.split(".")
        target = doc
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    return doc


def _page(
    docs: list[Document], limit: int, key: str, read: Callable[[Document], T], more: bool | None = None
) -> Page[T]:
    """The first ``limit`` of ``docs``; a next page where ``more`` says so, or, by default, where one
    more than ``limit`` was read. (A next page may turn out empty: the last has no cursor.)"""
    items = docs[:limit]
    more = len(docs) > limit if more is None else more
    after = encode_cursor(str(items[-1][key])) if more and items else None
    return Page([read(doc) for doc in items], after)
