"""The MongoDB adapter: version-gated document updates and the reads the queries need.

async with open_database(url, "cqrs_read") as db:
    store = ReadStore(db)
    await store.ensure_indexes()
"""

from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any
from uuid import UUID

from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from cqrs_contracts import AccountView, CustomerView, StreamType
from query_service import metrics
from query_service.read_model import layout
from query_service.read_model.cache import ViewCache
from query_service.read_model.changes import DocumentChange
from query_service.read_model.cursors import Page, decode_cursor, first_of
from query_service.read_model.inserts import Inserts
from query_service.read_model.layout import Document
from query_service.read_model.limits.equality_filters import BucketPages, NumberedLists
from query_service.read_model.limits.transfer_lists import TransferPages

# Stream positions this process saw applied, kept per generation: the streams seen last, at most
# this many (the view cache's default size). It was 100,000, emptied when full: at the soak's 63
# commands/s (make soak) that takes 33 minutes, and the query service's memory still grew by about
# 10 KB a second after its view cache was full; this table is the likely part of that.
KNOWN_POSITIONS = 20_000


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


class Kept:
    """What the view cache keeps of a document (cache.py): the document as stored, and its view,
    made at the first read that wants it (a document written again before any read costs none)."""

    __slots__ = ("_view", "document", "read")

    def __init__(
        self,
        document: Document,
        read: Callable[[Document], CustomerView | AccountView],
        view: CustomerView | AccountView | None = None,
    ) -> None:
        self.document = document
        self.read = read
        self._view = view

    @property
    def view(self) -> CustomerView | AccountView | None:
        """None where the document makes no view (then the database answers)."""
        if self._view is None:
            try:
                self._view = self.read(self.document)
            except (KeyError, TypeError, ValueError):
                return None
        return self._view


VIEWS: dict[str, Callable[[Document], CustomerView | AccountView]] = {
    layout.CUSTOMERS: layout.customer_view,
    layout.ACCOUNTS: layout.account_view,
}


def _uuid_text(value: str) -> str:
    return str(UUID(value))


class KnownPositions:
    """Stream id -> a version a generation is known to hold: a position only grows, so what this
    process applied (or read) spares a read when a query waits for it (consistency.py). The streams
    seen last are kept, at most KNOWN_POSITIONS of them."""

    def __init__(self, size: int = KNOWN_POSITIONS) -> None:
        self._size = size
        self._known: OrderedDict[UUID, int] = OrderedDict()

    def saw(self, stream_id: UUID, version: int) -> None:
        """The generation holds ``stream_id`` at ``version`` at least (applied, or read)."""
        if version > self._known.get(stream_id, 0):
            self._known[stream_id] = version
        if stream_id in self._known:
            self._known.move_to_end(stream_id)
            if len(self._known) > self._size:
                self._known.popitem(last=False)

    def of(self, stream_id: UUID) -> int:
        """A version the generation holds ``stream_id`` at, without a read (0 when none is known)."""
        return self._known.get(stream_id, 0)


class ReadStore:
    """One generation of the read model (layout.named): generation 0 unless a rebuild made another."""

    def __init__(self, db: AsyncDatabase[Document], generation: int = 0) -> None:
        self.db = db
        self.generation = generation
        self._customers = self._collection(layout.CUSTOMERS)
        self._accounts = self._collection(layout.ACCOUNTS)
        self.known = KnownPositions()
        self._inserts: dict[str, Inserts] = {}
        # Views by (collection, id), used while this generation is the one queries read and this
        # process projects (ReadModel hands its cache to the current store; cache.py says why).
        self.cache: ViewCache[Kept] = ViewCache(0)
        self.lists = NumberedLists(self._collection, lambda: self.cache)
        self.pages = BucketPages(self._collection, self.lists.numbers)
        self.transfers = TransferPages(self._collection, self.lists.numbers)

    def _collection(self, name: str) -> AsyncCollection[Document]:
        return self.db[layout.named(name, self.generation)]

    def collection(self, name: str) -> AsyncCollection[Document]:
        """This generation's collection ``name`` (layout's names)."""
        return self._collection(name)

    def inserts(self, name: str) -> Inserts:
        """The inserts of concurrent writers into collection ``name``, sent together (inserts.py)."""
        found = self._inserts.get(name)
        if found is None:
            found = self._inserts[name] = Inserts(self._collection(name))
        return found

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

    async def apply(self, change: DocumentChange) -> Applied | Gap:
        """Apply ``change`` if the document is at ``version - 1``; say what happened otherwise.
        The cache keeps the document it wrote when it knows all of it: inserted, or kept before."""
        with self.cache.writing((change.collection, change.doc_id)) as rewrite:
            fields = {**change.fields, **await self.lists.fields(change), change.gate: change.version}
            before = None if rewrite.before is None else rewrite.before.document
            outcome, base = await self._apply(change, fields, before)
            if base is not None and change.collection in VIEWS:
                rewrite.after = kept(change.collection, with_fields(base, stored(fields)))
            return outcome

    async def _apply(
        self, change: DocumentChange, fields: Document, before: Document | None
    ) -> tuple[Applied | Gap, Document | None]:
        """What happened, and the document the write set ``fields`` on, when it is known."""
        collection = self._collection(change.collection)
        if change.expected == 0:
            return await self._create(change, fields)
        where = {layout.ID: change.doc_id, change.gate: change.expected}
        if (await collection.update_one(where, {"$set": fields})).matched_count:
            return Applied.APPLIED, before
        current = await self.version(change.collection, change.doc_id, change.gate)
        return (Applied.DUPLICATE if current >= change.version else Gap(current)), None

    async def _create(self, change: DocumentChange, fields: Document) -> tuple[Applied, Document | None]:
        """Insert the document; if it exists already (made by another stream's event), fill it in.
        A shared document, or one the change fills, is filled in first, and made only where that finds
        none."""
        collection = self._collection(change.collection)
        where = {layout.ID: change.doc_id, change.gate: {"$exists": False}}
        first = change.shared or change.fills
        if first and (await collection.update_one(where, {"$set": fields})).matched_count:
            return Applied.APPLIED, None
        try:
            await self.inserts(change.collection).insert({layout.ID: change.doc_id, **nested(fields)})
            return Applied.APPLIED, {layout.ID: change.doc_id}
        except DuplicateKeyError:
            pass
        result = await collection.update_one(where, {"$set": fields})
        return (Applied.APPLIED if result.matched_count else Applied.DUPLICATE), None

    async def version(self, collection: str, doc_id: str, gate: str) -> int:
        value = layout.field_of(
            await self._collection(collection).find_one({layout.ID: doc_id}, {gate: 1}), gate
        )
        return value if isinstance(value, int) else 0

    async def position(self, stream_type: StreamType, stream_id: UUID) -> int:
        """The version of a stream the view has fully applied."""
        collection, gate = layout.POSITIONS[stream_type]
        version = await self.version(collection, str(stream_id), gate)
        self.known.saw(stream_id, version)
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
        view = None if cached is None else cached.view
        if view is not None:
            metrics.VIEW_HIT.inc()
            return view
        (metrics.VIEW_MISS if self.cache.enabled else metrics.VIEW_UNCACHED).inc()
        ticket = self.cache.ticket()
        doc = await documents.find_one(layout.exists({layout.ID: doc_id}))
        if doc is None:
            return None
        view = read(doc)
        self.cache.fill(key, Kept(doc, read, view), ticket)
        return view

    async def customers_with_name(self, folded: str, limit: int, after: str | None) -> Page[CustomerView]:
        """Customers with this folded name, in id order (an indexed equality, then ids after the cursor's)."""
        where: Document = {layout.NAME_FOLDED: folded}
        if after is not None:
            where = {**where, layout.ID: {"$gt": decode_cursor(after, _uuid_text)}}
        cursor = self._customers.find(layout.exists(where)).sort(layout.ID, ASCENDING)
        docs = await cursor.limit(limit + 1).to_list(limit + 1)
        return first_of(docs, limit, layout.ID, layout.customer_view)


def nested(fields: Document) -> Document:
    """Dotted paths as nested documents, for an insert: {"a.b": 1} -> {"a": {"b": 1}}."""
    return with_fields({}, fields)


def with_fields(doc: Document, fields: Document) -> Document:
    """``doc`` with ``fields`` (dotted paths) set, as ``$set`` sets them; ``doc`` is not changed
    (what a path goes through is copied, the rest shared)."""
    result = dict(doc)
    copied = {id(result)}
    for path, value in fields.items():
        *parents, leaf = path.split(".")
        target = result
        for part in parents:
            child = target.get(part)
            if not isinstance(child, dict):
                child = target[part] = {}
                copied.add(id(child))
            elif id(child) not in copied:
                child = target[part] = dict(child)
                copied.add(id(child))
            target = child
        target[leaf] = value
    return result


def stored(fields: Document) -> Document:
    """``fields`` as a read gives them back: BSON keeps a time to the millisecond, in UTC."""
    return {path: _stored(value) for path, value in fields.items()}


def _stored(value: Any) -> Any:
    if not isinstance(value, datetime):
        return value
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def kept(collection: str, doc: Document) -> Kept | None:
    """The cache's entry for ``doc``, or None where a read would not find it (no version of its own
    yet: layout.exists)."""
    if layout.VERSION not in doc:
        return None
    return Kept(doc, VIEWS[collection])
