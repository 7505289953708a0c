"""The outbox relay against real PostgreSQL and RabbitMQ: nothing skipped or dropped, streams in order."""

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import aio_pika
import asyncpg
import pytest
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from prometheus_client import REGISTRY

from command_service import store
from command_service.held_streams import Backoff
from command_service.relay import Relay
from command_service.store import PostgresEventStore
from cqrs_client.messaging import topology
from cqrs_contracts import (
    CreateCustomer,
    CustomerCreated,
    CustomerDetailsEdited,
    EditCustomerDetails,
    EventEnvelope,
    Metadata,
)
from tests.builders import accepted, envelope, insert_events, stream
from tests.resources import fresh_vhost, no_vhost
from tests.store_contract import send
from tests.waiting import until


@pytest.fixture
async def relay_and_queue(
    event_store: PostgresEventStore, amqp: AbstractRobustConnection
) -> AsyncIterator[tuple[Relay, AbstractQueue]]:
    channel = await amqp.channel(on_return_raises=True)  # as the service opens the relay's
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
    messages: list[AbstractIncomingMessage] = []
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


@pytest.mark.parametrize(("interval", "rounds"), [(1.0, 2), (0.0, 3)])
async def test_while_events_keep_coming_the_relays_rounds_are_paced_and_carry_what_committed_meanwhile(
    event_store: PostgresEventStore,
    pool: asyncpg.Pool,
    relay_and_queue: tuple[Relay, AbstractQueue],
    interval: float,
    rounds: int,
) -> None:
    relay, queue = relay_and_queue
    stopped = asyncio.Event()
    paced = Relay(event_store, relay._exchange, poll_interval=60, round_interval=interval)
    streams: list[UUID] = []
    async with pool.acquire() as conn:
        task = asyncio.create_task(paced.run(conn, stopped))
        await asyncio.sleep(0.2)  # idle, waiting for a NOTIFY
        for name in ("Ada", "Bob", "Cy"):  # Ada after a quiet moment; Bob and Cy within a second of her
            streams.append(accepted(await send(event_store, CreateCustomer(name=name, locale="en"))).id)
            await asyncio.sleep(0.3)
        published = await asyncio.wait_for(_collect(queue, 3), 5)
        stopped.set()
        await task
        # A round marks what it published in one statement, at one now(): a time per round.
        marked = await conn.fetch(
            "SELECT published_at, published_at - occurred_at AS waited FROM events"
            " WHERE stream_id = ANY($1::uuid[]) ORDER BY position",
            streams,
        )
    assert [body["stream_id"] for body in published] == [str(s) for s in streams]
    assert len({row["published_at"] for row in marked}) == rounds
    assert marked[0]["published_at"] != marked[1]["published_at"]
    assert marked[0]["waited"].total_seconds() < 0.5  # the first went at once, not an interval later


async def test_a_rounds_read_touches_what_is_unpublished_not_the_history(
    postgres_dsn: str, event_store: PostgresEventStore
) -> None:
    """Migration 007. The statistics last taken while many events were unpublished (as autovacuum's,
    under load) made PostgreSQL read by the index of every position, from the first, and filter: with
    the index of unpublished events on seq, 7,100-7,800 buffers a round in make bench's lag figure."""
    conn = await asyncpg.connect(postgres_dsn)
    try:
        await insert_events(conn, [created(uuid4(), f"c{n}") for n in range(5000)])
        assert await event_store.assign_positions(10_000) == 5000
        await conn.execute("ANALYZE events")
        await event_store.mark_published(list(range(1, 5001)))
        await insert_events(conn, [created(uuid4(), f"new {n}") for n in range(3)])
        assert await event_store.assign_positions(10_000) == 3
        await event_store.unpublished(200)  # the round before: it steps over the entries just published once
        plan = await conn.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {store._UNPUBLISHED}", 200, [])
    finally:
        await conn.close()
    root = json.loads(plan)[0]["Plan"]
    assert root["Actual Rows"] == 3
    assert root["Shared Hit Blocks"] + root["Shared Read Blocks"] < 30, root


# Pauses short enough for a test to wait out.
QUICK = Backoff(first=0.05, most=0.2)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def unbound(
    rabbitmq_server: str, event_store: PostgresEventStore
) -> AsyncIterator[tuple[Relay, AbstractChannel, AbstractExchange]]:
    """A relay on a vhost of its own, where no queue is bound to the events exchange (yet)."""
    with fresh_vhost(rabbitmq_server) as url:
        if url is None:
            pytest.fail(no_vhost(rabbitmq_server))
        async with await aio_pika.connect_robust(url) as connection:
            channel = await connection.channel(on_return_raises=True)
            events = await topology.declare_events(channel)
            yield Relay(event_store, events, backoff=QUICK), channel, events


async def published_all(relay: Relay, store: PostgresEventStore) -> bool:
    await relay.publish_pending()
    return (await store.outbox())[0] == 0


async def test_an_event_no_queue_is_bound_for_stays_unpublished_until_one_is(
    event_store: PostgresEventStore, unbound: tuple[Relay, AbstractChannel, AbstractExchange]
) -> None:
    relay, channel, events = unbound
    returns = sample("cqrs_relay_returned_events_total")
    created = accepted(await send(event_store, CreateCustomer(name="Ada", locale="en")))
    assert await relay.publish_pending() == 0
    assert (await event_store.outbox())[0] == 1
    assert sample("cqrs_relay_returned_events_total") == returns + 1
    assert sample("cqrs_relay_held_streams", reason="returned") == 1
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(events, routing_key="customer.*")
    await until(lambda: published_all(relay, event_store), what="the event published once a queue is bound")
    assert [body["stream_id"] for body in await _collect(queue, 1)] == [str(created.id)]
    assert sample("cqrs_relay_held_streams", reason="returned") == 0


async def test_a_returned_event_is_not_overtaken_by_its_streams_later_events(
    event_store: PostgresEventStore, unbound: tuple[Relay, AbstractChannel, AbstractExchange]
) -> None:
    relay, channel, events = unbound
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(events, routing_key="customer.details_edited")  # not customer.created
    created = accepted(await send(event_store, CreateCustomer(name="Ada", locale="en")))
    await send(event_store, EditCustomerDetails(customer_id=created.id, name="Ada L"))
    for _ in range(3):
        assert await relay.publish_pending() == 0
        await asyncio.sleep(QUICK.most)
    assert await drain(queue) == []
    assert (await event_store.outbox())[0] == 2
    await queue.bind(events, routing_key="customer.created")
    await until(lambda: published_all(relay, event_store), what="the stream published once routable")
    assert [body["version"] for body in await _collect(queue, 2)] == [1, 2]


def edited(stream_id: UUID, name: str) -> CustomerDetailsEdited:
    return CustomerDetailsEdited(customer_id=stream_id, name=name, locale="en")


@pytest.mark.parametrize(
    "stored",
    [
        '"{\\"type\\": \\"CustomerDetailsEd"',  # a JSON string: what is left of a truncated object
        '{"type": "CustomerDetailsEdited", "customer_id": "not a uuid"}',  # fails validation
    ],
    ids=["corrupt", "invalid"],
)
async def test_an_unreadable_row_holds_back_only_its_own_stream_and_raises_the_alert(
    stored: str,
    postgres_dsn: str,
    event_store: PostgresEventStore,
    relay_and_queue: tuple[Relay, AbstractQueue],
    caplog: pytest.LogCaptureFixture,
) -> None:
    exchange, queue = relay_and_queue[0]._exchange, relay_and_queue[1]
    # Batches of two: the bad stream's rows fill the first one, and must not starve the other stream.
    relay = Relay(event_store, exchange, batch_size=2, backoff=QUICK)
    bad, good = uuid4(), uuid4()
    bad_events = stream(
        CustomerCreated(customer_id=bad, name="B", locale="en"), edited(bad, "B 2"), edited(bad, "B 3")
    )
    good_events = stream(CustomerCreated(customer_id=good, name="G", locale="en"), edited(good, "G 2"))
    broken = bad_events[1]
    conn = await asyncpg.connect(postgres_dsn)
    try:
        await insert_events(
            conn, bad_events, stored_as=lambda e: (1, stored if e is broken else e.event.model_dump_json())
        )
        await insert_events(conn, good_events)
        with caplog.at_level(logging.ERROR, logger="command_service.relay"):
            assert await relay.publish_pending() == 1  # the bad stream's version 1, then it stops
            assert await relay.publish_pending() == 2  # the other stream
            for _ in range(3):
                assert await relay.publish_pending() == 0
                await asyncio.sleep(QUICK.most)
        assert sample("cqrs_relay_held_streams", reason="unreadable") == 1
        alerts = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(alerts) == 1, alerts
        assert str(bad) in alerts[0]
        assert "version 2 (seq 2)" in alerts[0]
        await conn.execute(
            "UPDATE events SET data = $1::text::jsonb WHERE event_id = $2",
            broken.event.model_dump_json(),
            broken.event_id,
        )
    finally:
        await conn.close()
    await until(lambda: published_all(relay, event_store), what="the repaired stream published")
    assert sample("cqrs_relay_held_streams", reason="unreadable") == 0
    published = [(body["stream_id"], body["version"]) for body in await _collect(queue, 5)]
    assert [v for s, v in published if s == str(bad)] == [1, 2, 3]
    assert [v for s, v in published if s == str(good)] == [1, 2]
