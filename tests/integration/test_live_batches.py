"""The live projector's group commit per owner, against the MongoDB-compatible server: events of one
owner that queue while it is busy are applied together, the documents come out as one-by-one
application makes them, a reader never sees a stream's version before that version's history, and
a batch stopped half-way hands the events it took back (projection/projector.py)."""

import asyncio
from uuid import UUID, uuid4

from cqrs_contracts import CustomerCreated, EventEnvelope
from cqrs_shared.runtime.group_commit import GroupInterrupted
from query_service import metrics
from query_service.projection import projector
from query_service.read_model import layout
from query_service.read_model.model import ReadModel
from query_service.read_model.store import Applied, ReadStore
from query_service.transient import is_transient
from tests.builders import envelope, savings
from tests.integration.test_batches import documents, no_gaps

DEPOSITS = 60


def history() -> list[EventEnvelope]:
    customer = uuid4()
    created = envelope(CustomerCreated(customer_id=customer, name="Ada", locale="en"), 1)
    events = [created, *savings(uuid4(), customer, DEPOSITS)]
    return [item.model_copy(update={"position": n}) for n, item in enumerate(events, start=1)]


def batched_events() -> float:
    """Events applied together so far, in this process."""
    return sum(
        sample.value
        for metric in metrics.PROJECTION_BATCHES.collect()
        for sample in metric.samples
        if sample.name.endswith("_sum") and sample.labels["result"] == "together"
    )


def live(store: ReadStore) -> projector.Projector:
    return projector.Projector(ReadModel(store.db, store), no_gaps)


async def test_events_that_queue_behind_their_owner_go_together_and_write_what_one_by_one_writes(
    read_store: ReadStore,
) -> None:
    events = history()
    one_by_one = ReadStore(read_store.db, 1)
    await one_by_one.ensure_indexes()
    for item in events:
        await projector.apply(item, one_by_one, no_gaps)
    before = batched_events()

    projecting = live(read_store)
    outcomes = [await projecting.handle(events[0])]
    outcomes += await asyncio.gather(*(projecting.handle(item) for item in events[1:]))

    assert outcomes == [Applied.APPLIED] * len(events)
    # The account's opening went alone (the owner was free); the 60 that queued behind it, together.
    assert batched_events() - before == DEPOSITS
    assert await documents(read_store) == await documents(one_by_one)
    assert projecting.positions.low == len(events)  # every event's position counted as applied


async def test_a_reader_never_sees_a_version_before_its_history(read_store: ReadStore) -> None:
    events = history()
    account = events[1].stream_id
    projecting = live(read_store)
    await projecting.handle(events[0])
    seen: list[int] = []

    async def read_while_projecting(done: asyncio.Event) -> None:
        while not done.is_set():
            version = await read_store.position("account", account)
            page = await read_store.pages.transactions(account, DEPOSITS + 1, None)
            listed = {item.version for item in page.items}
            assert set(range(2, version + 1)) <= listed, f"account at {version}, history {sorted(listed)}"
            seen.append(version)

    done = asyncio.Event()
    reader = asyncio.create_task(read_while_projecting(done))
    for start in range(1, len(events), 15):  # four bursts, each queued behind its first event
        await asyncio.gather(*(projecting.handle(item) for item in events[start : start + 15]))
        await asyncio.sleep(0.01)
    done.set()
    await reader
    assert await read_store.position("account", account) == DEPOSITS + 1
    assert len(seen) > 1


async def test_a_batch_with_events_applied_before_goes_one_by_one_and_ends_the_same(
    read_store: ReadStore,
) -> None:
    events = history()
    for item in events[:30]:  # a redelivery after a crash: these were applied
        await projector.apply(item, read_store, no_gaps)
    projecting = live(read_store)
    outcomes = await asyncio.gather(*(projecting.handle(item) for item in events))
    assert outcomes[30:] == [Applied.APPLIED] * (len(events) - 30)
    assert set(outcomes[:30]) <= {Applied.APPLIED, Applied.DUPLICATE}
    assert await read_store.position("account", events[1].stream_id) == DEPOSITS + 1
    assert await read_store.position("customer", events[0].stream_id) == 1


async def test_a_batch_stopped_half_way_hands_its_other_events_back_and_they_apply_again(
    read_store: ReadStore,
) -> None:
    events = history()
    owner: UUID = events[0].stream_id
    projecting = live(read_store)
    await projecting.handle(events[0])
    async with projecting.owning(owner):  # busy: the next events queue
        tasks = [asyncio.create_task(projecting.handle(item)) for item in events[1:4]]
        await asyncio.sleep(0)
    for _ in range(3):  # the first takes the owner and all three, and starts writing
        await asyncio.sleep(0)
    tasks[0].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)

    assert isinstance(results[0], asyncio.CancelledError)
    for result in results[1:]:
        assert isinstance(result, GroupInterrupted)
        assert is_transient(result)
    # The broker hands the three back (none was acknowledged); the gates make the repeat exact.
    again = await asyncio.gather(*(projecting.handle(item) for item in events[1:4]))
    assert set(again) <= {Applied.APPLIED, Applied.DUPLICATE}
    assert await read_store.position("account", events[1].stream_id) == 3
    doc = await read_store.collection(layout.ACCOUNTS).find_one({layout.ID: str(events[1].stream_id)})
    assert doc is not None
    assert doc[layout.BALANCE] == "2.00"
