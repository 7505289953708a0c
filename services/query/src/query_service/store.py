"""The MongoDB adapter: version-gated document updates and the reads the queries need.

async with open_database(url, "cqrs_read") as db:
    store = ReadStore(db)
    await store.ensure_indexes()
"""

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any
from uuid import UUID

from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from query_service.projections import CUSTOMERS, DocumentChange

Document = dict[str, Any]


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
class Page:
    items: list[Document]
    next: str | None


def encode_cursor(doc_id: str) -> str:
    return base64.urlsafe_b64encode(doc_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """An opaque cursor back to the id it continues after; anything else raises ValueError."""
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        return str(UUID(raw.decode()))
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"not a cursor this service issued: {cursor!r}") from None


class ReadStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db
        self._customers = db[CUSTOMERS]

    async def ensure_indexes(self) -> None:
        await self._customers.create_index([("name_folded", ASCENDING), ("_id", ASCENDING)])
        await self._customers.create_index([("is_preferred", ASCENDING), ("_id", ASCENDING)])

    async def apply(self, change: DocumentChange) -> Applied | Gap:
        """Apply ``change`` if the document is at ``version - 1``; say what happened otherwise."""
        collection = self._db[change.collection]
        update = {"$set": {**change.fields, change.gate: change.version}}
        if change.version == 1:
            try:
                result = await collection.update_one(
                    {"_id": change.doc_id, change.gate: {"$exists": False}}, update, upsert=True
                )
            except DuplicateKeyError:
                return Applied.DUPLICATE
            return Applied.APPLIED if result.modified_count or result.upserted_id else Applied.DUPLICATE
        result = await collection.update_one({"_id": change.doc_id, change.gate: change.version - 1}, update)
        if result.matched_count:
            return Applied.APPLIED
        current = await self.version(change.collection, change.doc_id, change.gate)
        return Applied.DUPLICATE if current >= change.version else Gap(current)

    async def version(self, collection: str, doc_id: str, gate: str) -> int:
        doc = await self._db[collection].find_one({"_id": doc_id}, {gate: 1})
        value: Any = doc
        for part in gate.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value if isinstance(value, int) else 0

    async def customer(self, customer_id: str) -> Document | None:
        return await self._customers.find_one({"_id": customer_id, "version": {"$exists": True}})

    async def customers_with_name(self, folded: str, limit: int, after: str | None) -> Page:
        return await self._page({"name_folded": folded}, limit, after)

    async def preferred_customers(self, limit: int, after: str | None) -> Page:
        return await self._page({"is_preferred": True}, limit, after)

    async def _page(self, where: Document, limit: int, after: str | None) -> Page:
        if after is not None:
            where = {**where, "_id": {"$gt": decode_cursor(after)}}
        cursor = self._customers.find({**where, "version": {"$exists": True}}).sort("_id", ASCENDING)
        docs = await cursor.limit(limit + 1).to_list(limit + 1)
        more = len(docs) > limit
        items = docs[:limit]
        return Page(items, encode_cursor(items[-1]["_id"]) if more else None)
