"""Global positions against real PostgreSQL: gap-free and in commit order while transactions commit
out of the order of their sequence numbers, concurrently, and while others read (ARCHITECTURE.md,
"every committed event gets a global, gap-free position")."""

import asyncio
import random
from decimal import Decimal
from uuid import UUID, uuid4

import asyncpg

from command_service.store import PostgresEventStore
from cqrs_contracts import CreateCustomer, CustomerCreated, Deposit, EventEnvelope, OpenAccount
from tests.builders import accepted, envelope, insert_events
from tests.store_contract import send


def created(stream_id: UUID) -> EventEnvelope:
    return envelope(CustomerCreated(customer_id=stream_id, name="Ada", locale="en"), 1)


async def test_an_event_committed_late_with_an_earlier_sequence_number_gets_a_later_position(
    postgres_dsn: str, event_store: PostgresEventStore
) -> None:
    early, late = await asyncpg.connect(postgres_dsn), await asyncpg.connect(postgres_dsn)
    first, second = uuid4(), uuid4()
    try:
        slow = early.transaction()
        await slow.start()
        await insert_events(early, [created(first)])  # takes the lower sequence number, commits last
        async with late.transaction():
            await insert_events(late, [created(second)])
        assert await event_store.assign_positions(100) == 1
        seen, head = await event_store.read_all(0, 100)
        assert (head, [item.envelope.stream_id for item in seen]) == (1, [second])
        await slow.commit()
        assert await event_store.assign_positions(100) == 1
    finally:
        await early.close()
        await late.close()
    seen, head = await event_store.read_all(0, 100)
    assert head == 2
    assert [(item.envelope.position, item.envelope.stream_id) for item in seen] == [(1, second), (2, first)]
    assert seen[0].seq > seen[1].seq


async def test_positions_stay_gap_free_while_writers_commit_and_two_numberers_race_and_readers_read(
    event_store: PostgresEventStore,
) -> None:
    accounts = []
    for _ in range(4):
        customer = accepted(await send(event_store, CreateCustomer(name="Ada", locale="en"))).id
        accounts.append(accepted(await send(event_store, OpenAccount(customer_id=customer))).id)
    writing = True
    snapshots = 0

    async def write(account: UUID) -> None:
        for _ in range(40):
            accepted(await send(event_store, Deposit(account_id=account, amount=Decimal("1.00"))))
            await asyncio.sleep(random.uniform(0, 0.003))

    async def number() -> None:
        while writing:
            await event_store.assign_positions(7)  # small batches: many numberings interleave
            await asyncio.sleep(random.uniform(0, 0.002))

    async def read() -> None:
        nonlocal snapshots
        while writing:
            seen, head = await event_store.read_all(0, 10_000)
            positions = [item.envelope.position for item in seen]
            # Whatever a reader sees is a prefix 1..n of the positions, with no hole in it.
            assert positions == list(range(1, len(positions) + 1))
            assert head >= len(positions)
            _in_stream_order(seen)
            snapshots += 1

    numberers = [asyncio.create_task(number()) for _ in range(2)]
    readers = [asyncio.create_task(read()) for _ in range(2)]
    await asyncio.gather(*(write(account) for account in accounts))
    writing = False
    await asyncio.gather(*numberers, *readers)
    while await event_store.assign_positions(1000):
        pass
    seen, head = await event_store.read_all(0, 10_000)
    assert head == len(seen) == 4 * 2 + 4 * 40
    assert [item.envelope.position for item in seen] == list(range(1, head + 1))
    assert len({item.envelope.event_id for item in seen}) == head
    _in_stream_order(seen)
    assert snapshots > 5


def _in_stream_order(seen: list) -> None:  # type: ignore[type-arg]
    """Each stream's events appear in version order along the positions, one version after another."""
    last: dict[UUID, int] = {}
    for item in seen:
        stream_id = item.envelope.stream_id
        assert item.envelope.version == last.get(stream_id, 0) + 1
        last[stream_id] = item.envelope.version
