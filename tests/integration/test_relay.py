"""The outbox relay against real PostgreSQL and RabbitMQ: nothing skipped, streams in order."""

import asyncio
import json
from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import asyncpg
import pytest
from aio_pika.abc import AbstractQueue, AbstractRobustConnection

from command_service.relay import Relay
from command_service.store import PostgresEventStore
from cqrs_shared.contracts import (
    CreateCustomer,
    CustomerCreated,
    EditCustomerDetails,
    EventEnvelope,
    Metadata,
)
from cqrs_shared.messaging import topology
from tests.builders import accepted, envelope, insert_events
from tests.store_contract import send

pytestmark = pytest.mark.integration


@pytest.fixture
async def relay_and_queue(
    event_store: PostgresEventStore, amqp: AbstractRobustConnection
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


def created(stream_id: UUID, name: str) -> EventEnvelope:
    return envelope(CustomerCreated(customer_id=stream_id, name=name, locale="en"), 1)


async def test_event_committed_late_with_an_earlier_sequence_number_is_still_published(
    postgres_dsn: str, relay_and_queue: tuple[Relay, AbstractQueue]
) -> None:
    relay, queue = relay_and_queue
    early, late = await asyncpg.connect(postgres_dsn), await asyncpg.connect(postgres_dsn)
    first, second = uuid4(), uuid4()
    try:
        slow = early.transaction()
        await slow.start()
        await insert_events(early, [created(first, "first")])  # takes the lower sequence number, commits last
        async with late.transaction():
            await insert_events(late, [created(second, "second")])
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
    event_store: PostgresEventStore, relay_and_queue: tuple[Relay, AbstractQueue]
) -> None:
    relay, queue = relay_and_queue
    created = accepted(await send(event_store, CreateCustomer(name="Ada", locale="en")))
    for n in range(5):
        command = EditCustomerDetails(customer_id=created.id, name=f"Ada {n}")
        await send(event_store, command, Metadata(type="E", traceparent=f"00-{'a' * 32}-{'b' * 16}-01"))
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
    event_store: PostgresEventStore, pool: asyncpg.Pool, relay_and_queue: tuple[Relay, AbstractQueue]
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
        await send(event_store, CreateCustomer(name="Ada", locale="en"))
        published = await asyncio.wait_for(_collect(queue, 1), 5)
        stopped.set()
        await asyncio.gather(*tasks)
    assert len(published) == 1
    assert not tasks[1].exception()
