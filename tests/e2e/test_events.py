"""Events reach the read model exactly once in effect: duplicates, reordering, gaps and garbage."""

import json
from datetime import UTC, datetime
from uuid import UUID, uuid4

import aio_pika
import asyncpg
import pytest

from cqrs_client.client import CqrsClient
from cqrs_client.errors import RemoteError
from cqrs_client.messaging import topology
from cqrs_contracts import (
    CommandAccepted,
    CreateCustomer,
    CustomerCreated,
    CustomerDetailsEdited,
    CustomerMadePreferred,
    EventEnvelope,
    GetCustomer,
    ListStreams,
    routing_key,
)
from tests.builders import accepted, insert_events, stream
from tests.e2e.raw import find_dead_letter, raw_channel
from tests.pair import Pair
from tests.waiting import until


def envelopes(stream_id: UUID) -> list[EventEnvelope]:
    return stream(
        CustomerCreated(customer_id=stream_id, name="Ada", locale="en"),
        CustomerMadePreferred(customer_id=stream_id),
        CustomerDetailsEdited(customer_id=stream_id, name="Ada King", locale="en-GB"),
        at=datetime.now(UTC),
    )


async def store_as_published(dsn: str, history: list[EventEnvelope]) -> None:
    """Put a stream into the event store as if the relay had published it already."""
    conn = await asyncpg.connect(dsn)
    try:
        await insert_events(conn, history, published=True)
    finally:
        await conn.close()


async def test_duplicates_and_a_gap_are_repaired_from_the_command_side(
    pair: Pair, client: CqrsClient
) -> None:
    stream_id = uuid4()
    history = envelopes(stream_id)
    await store_as_published(pair.postgres_dsn, history)
    first, second, third = history
    async with raw_channel(pair.env["CQRS_RABBITMQ_URL"]) as raw:
        for item in (first, third, first, second, third):
            await raw.publish(
                item.model_dump_json().encode(),
                exchange=topology.EVENTS_EXCHANGE,
                routing_key=routing_key(item.event.type),
                message_id=str(item.event_id),
                reply=False,
            )
    view = await client.ask(GetCustomer(customer_id=stream_id, min_version=3))
    assert (view.name, view.locale, view.is_preferred, view.version) == ("Ada King", "en-GB", True, 3)
    assert "gap in customer" in pair.query.output()


async def test_an_event_nobody_can_read_is_dead_lettered_and_projection_goes_on(
    pair: Pair, client: CqrsClient
) -> None:
    async with raw_channel(pair.env["CQRS_RABBITMQ_URL"]) as raw:
        sent = await raw.publish(
            b'{"event": "nonsense"}',
            exchange=topology.EVENTS_EXCHANGE,
            routing_key="customer.created",
            reply=False,
        )
        dead = await find_dead_letter(raw.channel, topology.dead_letter_queue(topology.EVENT_QUEUE), sent)
    assert dead.headers["x-error-code"] == "malformed_message"
    reply = await client.send(CreateCustomer(name="After", locale="en"))
    assert isinstance(reply, CommandAccepted)
    view = await client.ask(GetCustomer(customer_id=reply.id, min_version=1))
    assert view.name == "After"


async def test_an_event_of_a_newer_schema_is_dead_lettered_not_misread(pair: Pair) -> None:
    created = envelopes(uuid4())[0]
    newer = {**json.loads(created.model_dump_json()), "schema_version": 2}  # CustomerCreated is at 1
    async with raw_channel(pair.env["CQRS_RABBITMQ_URL"]) as raw:
        sent = await raw.publish(
            json.dumps(newer).encode(),
            exchange=topology.EVENTS_EXCHANGE,
            routing_key=routing_key(created.event.type),
            headers={"schema_version": 2},
            reply=False,
        )
        dead = await find_dead_letter(raw.channel, topology.dead_letter_queue(topology.EVENT_QUEUE), sent)
    assert dead.headers["x-error-code"] == "unsupported_schema_version"
    assert dead.headers["x-error-message"] == "CustomerCreated schema_version 2 is newer than this reader's 1"


async def test_read_your_writes_with_the_version_from_the_reply(client: CqrsClient) -> None:
    for n in range(5):
        reply = await client.send(CreateCustomer(name=f"Fast {n}", locale="en"))
        assert isinstance(reply, CommandAccepted)
        view = await client.ask(GetCustomer(customer_id=reply.id, min_version=reply.version))
        assert view.version >= reply.version


async def test_events_carry_metadata_and_the_trace_of_the_command(pair: Pair) -> None:
    traceparent = f"00-{uuid4().hex}-{uuid4().hex[:16]}-01"
    command_id = str(uuid4())
    body = json.dumps({"type": "CreateCustomer", "name": "Traced", "locale": "en"}).encode()
    async with raw_channel(pair.env["CQRS_RABBITMQ_URL"]) as raw:
        queue = await raw.channel.declare_queue(exclusive=True)
        await queue.bind(topology.EVENTS_EXCHANGE, routing_key="customer.created")
        sent = await raw.publish(
            body,
            exchange=topology.COMMANDS_EXCHANGE,
            routing_key="CreateCustomer",
            message_id=command_id,
            headers={"traceparent": traceparent},
        )
        reply = await raw.reply(sent)

        async def ours() -> aio_pika.abc.AbstractIncomingMessage | None:
            message = await queue.get(fail=False, no_ack=True)
            if message is not None and json.loads(message.body)["stream_id"] == reply["id"]:
                return message
            return None

        message = await until(ours, what="the CustomerCreated event")
    assert message.type == "CustomerCreated"
    assert message.headers["causation_id"] == command_id
    assert message.headers["traceparent"] == traceparent
    assert message.correlation_id == sent
    assert message.message_id
    assert message.timestamp is not None


async def test_unknown_customer_query_is_not_found(client: CqrsClient) -> None:
    with pytest.raises(RemoteError) as caught:
        await client.ask(GetCustomer(customer_id=uuid4()))
    assert caught.value.info.code == "not_found"


async def test_the_command_side_lists_its_streams_a_page_at_a_time(pair: Pair, client: CqrsClient) -> None:
    created = [accepted(await client.send(CreateCustomer(name="Listed", locale="en"))).id for _ in range(3)]
    async with raw_channel(pair.env["CQRS_RABBITMQ_URL"]) as raw:
        seen: list[str] = []
        after = None
        while True:
            request = ListStreams(after=after, limit=2).model_dump_json().encode()
            correlation = await raw.publish(request, routing_key=topology.STREAM_QUEUE, type_="ListStreams")
            reply = await raw.reply(correlation)
            assert reply["status"] == "ok", reply
            seen += [ref["stream_id"] for ref in reply["result"]["streams"]]
            if reply["result"]["next"] is None:
                break
            after = UUID(reply["result"]["next"])
    assert {str(stream_id) for stream_id in created} <= set(seen)
    assert seen == sorted(seen)
