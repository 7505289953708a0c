"""The limits of FerretDB v1 that read_model/limits/ works around, shown on the server the tests run
against: each test says what that server does, so on MongoDB (testcontainers) it shows the
workaround is not needed there, and on FerretDB that it is."""

import asyncio
from decimal import Decimal
from uuid import uuid4

from bson.decimal128 import Decimal128
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from query_service.read_model.layout import Document
from query_service.read_model.limits.no_decimal128 import from_minor_units, minor_units
from query_service.read_model.store import ReadStore

PAIRS = 50


async def is_ferretdb(db: AsyncDatabase[Document]) -> bool:
    info = await db.client.admin.command("buildInfo")
    return any(key.startswith("ferretdb") for key in info)


async def test_decimal128_is_refused_by_ferretdb_so_money_is_stored_in_minor_units(
    read_store: ReadStore,
) -> None:
    collection = read_store.db[f"limits_{uuid4().hex[:8]}"]
    try:
        await collection.insert_one({"_id": 1, "amount": Decimal128(Decimal("12.50"))})
        stored = await collection.find_one({"_id": 1})
        refused = False
    except PyMongoError:  # FerretDB v1.24: the connection is closed under the insert
        stored, refused = None, True
    if await is_ferretdb(read_store.db):
        assert refused
    else:
        assert stored is not None
        assert stored["amount"] == Decimal128(Decimal("12.50"))
    # The workaround: exact, and an int64 any tool sums.
    assert minor_units(Decimal("12.50"), "EUR") == 1250
    assert minor_units(Decimal("1500"), "JPY") == 1500
    assert from_minor_units(1250, "EUR") == Decimal("12.50")
    assert from_minor_units(7, "BHD") == Decimal("0.007")
    await collection.drop()


async def test_concurrent_sets_of_two_fields_of_one_document_lose_one_on_ferretdb(
    read_store: ReadStore,
) -> None:
    """Why one writer at a time applies a customer's events, and numbers are claimed by inserts
    (limits/whole_document_updates.py): FerretDB v1 rewrites the whole document to update it."""
    collection = read_store.db[f"limits_{uuid4().hex[:8]}"]
    await collection.insert_many([{"_id": n} for n in range(PAIRS)])
    await asyncio.gather(
        *(
            collection.update_one({"_id": n}, {"$set": {field: 1}})
            for n in range(PAIRS)
            for field in ("a", "b")
        )
    )
    lost = sum(1 for doc in await collection.find({}).to_list(None) if not ("a" in doc and "b" in doc))
    await collection.drop()
    if await is_ferretdb(read_store.db):
        assert lost > 0, "FerretDB kept every pair: the single-writer rule may no longer be needed"
    else:
        assert lost == 0
