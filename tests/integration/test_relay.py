"""The outbox relay against real PostgreSQL and RabbitMQ: nothing skipped, streams in order."""

import asyncio
import json
from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import asyncpg
import pytest
from aio_pika.abc import AbstractQueue, AbstractRobustConnection

from command_service import handler
from command_service.relay import Relay
from command_service.store import EventStore
from cqrs_shared.contracts import CommandAccepted, CreateCustomer, EditCustomerDetails, Metadata
from cqrs_shared.messaging import topology

pytestmark = pytest.mark.integration


@pytest.fixture
async def relay_and_queue(
    event_store: EventStore, amqp: AbstractRobustConnection
) -> AsyncIterator[tuple[Relay, AbstractQueue]]:
    channel = await amqp.channel()
    events = await topology.declare_events(channel)
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(events, routing_key="customer.*")
    yield Relay(event_store, events, batch_size=100), queue
    await channel.close()


async def drain(queue: AbstractQueue) -> list[dict[str, object]]:
    bodies = []
    while (message := await queue.get(fail=False, no_ack=True)) is not None:
        bodies.append(json.loads(message.body))
    return bodies


async def insert_event(conn: asyncpg.Connection, stream_id: UUID, name: str) -> None:
    data = json.dumps(
        {"type": "CustomerCreated", "customer_id": str(stream_id), "name": name, "locale": "en"}
    )
    await conn.execute(
        "INSERT INTO events (event_id, stream_type, stream_id, version, type, schema_version, data,"
        " correlation_id, occurred_at) VALUES ($1, 'customer', $2, 1, 'CustomerCreated', 1, $3::jsonb,"
        " 'c', now())",
        uuid4(),
        stream_id,
        data,
    )


async def test_event_committed_late_with_an_earlier_sequence_number_is_still_published(
    postgres_dsn: str, relay_and_queue: tuple[Relay, AbstractQueue]
) -> None:
    relay, queue = relay_and_queue
    early, late = await asyncpg.connect(postgres_dsn), await asyncpg.connect(postgres_dsn)
    first, second = uuid4(), uuid4()
    try:
        slow = early.transaction()
        await slow.start()
        await insert_event(early, first, "first")  # takes the lower sequence number, commits last
        async with late.transaction():
            await insert_event(late, second, "second")
        assert await relay.publish_pending() == 1
        await slow.commit()
        assert await relay.publish_pending() == 1
        assert await relay.publish_pending() == 0
    finally:
        await early.close()
        await late.close()
    published = await asyncio.wait_for(_collect(queue, 2), 10)
    assert [body["stream_id"] for body in published] == [str(second), str(first)]


async def _collect(queue: AbstractQueue, count: int) -> list[dict[str, object]]:
    got: list[dict[str, object]] = []
    while len(got) < count:
        got += await drain(queue)
        await asyncio.sleep(0.02)
    return got


async def test_relay_publishes_each_stream_in_version_order_with_metadata(
    event_store: EventStore, relay_and_queue: tuple[Relay, AbstractQueue]
) -> None:
    relay, queue = relay_and_queue
    created = await handler.handle(CreateCustomer(name="Ada", locale="en"), Metadata(type="C"), event_store)
    assert isinstance(created, CommandAccepted)
    for n in range(5):
        command = EditCustomerDetails(customer_id=created.id, name=f"Ada {n}")
        await handler.handle(
            command, Metadata(type="E", traceparent=f"00-{'a' * 32}-{'b' * 16}-01"), event_store
        )
    assert await relay.publish_pending() == 6
    messages = []
    while len(messages) < 6:
        message = await queue.get(fail=False, no_ack=True, timeout=5)
        if message is None:
            await asyncio.sleep(0.02)
            continue
        messages.append(message)
    assert [json.loads(m.body)["version"] for m in messages] == [1, 2, 3, 4, 5, 6]
    last = messages[-1]
    assert last.type == "CustomerDetailsEdited"
    assert last.routing_key == "customer.details_edited"
    assert last.message_id
    assert last.correlation_id
    assert last.timestamp
    assert last.headers["traceparent"] == f"00-{'a' * 32}-{'b' * 16}-01"
    assert last.headers["causation_id"]
    assert last.headers["schema_version"] == 1
    assert await relay.publish_pending() == 0


async def test_relay_wakes_on_notify_and_only_one_replica_leads(
    event_store: EventStore, pool: asyncpg.Pool, relay_and_queue: tuple[Relay, AbstractQueue]
) -> None:
    relay, queue = relay_and_queue
    stopped = asyncio.Event()
    # A poll interval far longer than the test: only NOTIFY can wake the leader in time.
    leader = Relay(event_store, relay._exchange, poll_interval=60)
    standby = Relay(event_store, relay._exchange, poll_interval=0.05)
    async with pool.acquire() as a, pool.acquire() as b:
        tasks = [asyncio.create_task(leader.run(a, stopped))]
        await asyncio.sleep(0.2)
        tasks.append(asyncio.create_task(standby.run(b, stopped)))
        await asyncio.sleep(0.2)
        await handler.handle(CreateCustomer(name="Ada", locale="en"), Metadata(type="C"), event_store)
        published = await asyncio.wait_for(_collect(queue, 1), 5)
        stopped.set()
        await asyncio.gather(*tasks)
    assert len(published) == 1
    assert not tasks[1].exception()
