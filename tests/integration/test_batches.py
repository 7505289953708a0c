"""A catch-up's batched writes against the MongoDB-compatible server: the documents come out as the
events applied one by one make them, in far fewer writes, and a batch that meets a document ahead
of it is applied one by one instead (read_model/batches.py)."""

from typing import Any
from uuid import uuid4

from cqrs_contracts import CustomerCreated, CustomerMadePreferred, EventEnvelope
from query_service.projection import projector
from query_service.projection.projections import project
from query_service.read_model import layout
from query_service.read_model.batches import apply_batch
from query_service.read_model.store import ReadStore
from tests.builders import envelope, savings

COLLECTIONS = (layout.CUSTOMERS, layout.ACCOUNTS, layout.TRANSACTIONS, layout.LEDGER)


async def no_gaps(*_: object) -> list[EventEnvelope]:
    raise AssertionError("no gap expected")


def owner_history() -> list[EventEnvelope]:
    customer, account = uuid4(), uuid4()
    created = envelope(CustomerCreated(customer_id=customer, name="Ada", locale="en"), 1)
    preferred = envelope(CustomerMadePreferred(customer_id=customer), 2)
    return [created, *savings(account, customer, 60), preferred]


async def documents(store: ReadStore) -> dict[str, Any]:
    found = {}
    for name in COLLECTIONS:
        async for doc in store.collection(name).find():
            found[f"{name}/{doc[layout.ID]}"] = doc
    return found


async def test_a_batch_writes_the_documents_one_by_one_application_writes(read_store: ReadStore) -> None:
    history = owner_history()
    batched = ReadStore(read_store.db, 1)
    await batched.ensure_indexes()
    for item in history:
        await projector.apply(item, read_store, no_gaps)
    changes = [change for item in history for change in project(item)]
    assert await apply_batch(batched, changes)
    one_by_one, in_batch = await documents(read_store), await documents(batched)
    assert one_by_one.keys() == in_batch.keys()
    numbering = (layout.PREFERRED_SEQ, layout.PREFERRED_BUCKET)
    for key, doc in one_by_one.items():
        assert {k: v for k, v in in_batch[key].items() if k not in numbering} == {
            k: v for k, v in doc.items() if k not in numbering
        }, key


async def test_a_batch_meeting_a_document_ahead_of_it_says_so_and_one_by_one_finishes_it(
    read_store: ReadStore,
) -> None:
    history = owner_history()
    for item in history[:30]:  # live events got there first
        await projector.apply(item, read_store, no_gaps)
    changes = [change for item in history for change in project(item)]
    assert not await apply_batch(read_store, changes)
    for item in history:
        await projector.apply(item, read_store, no_gaps)
    account = history[1].stream_id
    assert await read_store.position("account", account) == 61
    assert await read_store.position("customer", history[0].stream_id) == 2
