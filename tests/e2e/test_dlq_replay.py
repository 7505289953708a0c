"""`cqrs dlq replay` on the real broker sends a dead letter only back to the queue of its dead-letter
queue, and only a message of that queue (issue 20): no header a client wrote decides.

The queues are the pair's, declared on a vhost of this module's own with no service consuming them:
so the broker dead-letters a message whose expiration passes, and whatever a replay sends stays in
its queue to be looked at.
"""

import json
import os
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage

from cqrs_client.messaging import topology
from cqrs_contracts import CreateCustomer, CustomerCreated, GetCustomer, ReadStream
from tests.builders import envelope
from tests.e2e.test_ops import listed, run, wait_listed
from tests.pair import Cli
from tests.resources import fresh_vhost, no_vhost

COMMAND_DLQ = topology.dead_letter_queue(topology.COMMAND_QUEUE)


@pytest.fixture(scope="module")
async def bare(rabbitmq_server: str) -> AsyncIterator[str]:
    """The URL of a vhost with the pair's queues and nobody consuming them."""
    with fresh_vhost(rabbitmq_server) as url:
        if url is None:
            pytest.fail(no_vhost(rabbitmq_server))
        connection = await aio_pika.connect(url)
        async with connection, connection.channel() as channel:
            await topology.declare_commands(channel)
            await topology.declare_queue(channel, topology.STREAM_QUEUE)
            await topology.declare_event_queue(channel)
            await topology.declare_query_queue(channel)
        yield url


@pytest.fixture
def operator(bare: str) -> Cli:
    """`cqrs` as an operator runs it: with the broker's own user, who may write to every queue."""
    return Cli({**os.environ, "CQRS_RABBITMQ_URL": bare})


async def publish(
    url: str,
    body: bytes,
    *,
    exchange: str = "",
    routing_key: str,
    type_: str,
    headers: dict[str, Any],
    expiration: float | None = None,
) -> str:
    """Publish exactly this; returns the message id."""
    message_id = str(uuid4())
    connection = await aio_pika.connect(url)
    async with connection, connection.channel() as channel:
        target = channel.default_exchange if not exchange else await channel.get_exchange(exchange)
        message = aio_pika.Message(
            body, message_id=message_id, type=type_, headers=headers, expiration=expiration
        )
        await target.publish(message, routing_key=routing_key)
    return message_id


async def taken(url: str, queue: str) -> dict[str, AbstractIncomingMessage]:
    """Every message of ``queue`` by message id, taken out of it (acked)."""
    found = {}
    connection = await aio_pika.connect(url)
    async with connection, connection.channel() as channel:
        declared = await channel.declare_queue(queue, passive=True)
        while (message := await declared.get(fail=False)) is not None:
            await message.ack()
            found[message.message_id or ""] = message
    return found


async def expired_by_the_broker(url: str, body: bytes, type_: str) -> str:
    """A client's message through ``cqrs.commands`` (a client may publish there), forging our
    header: its expiration passes in the command queue and the broker dead-letters it."""
    return await publish(
        url,
        body,
        exchange=topology.COMMANDS_EXCHANGE,
        routing_key="CreateCustomer",
        type_=type_,
        headers={"x-original-queue": topology.EVENT_QUEUE, "x-error-code": "internal_error"},
        expiration=0.001,  # seconds: on the wire "1" (ms)
    )


async def test_a_client_event_the_broker_dead_lettered_is_not_replayed_into_the_event_queue(
    bare: str, operator: Cli
) -> None:
    event = envelope(CustomerCreated(customer_id=uuid4(), name="Forged", locale="en"), 1)
    message_id = await expired_by_the_broker(bare, event.model_dump_json().encode(), "CustomerCreated")
    letter = (await wait_listed(operator, COMMAND_DLQ, message_id))[message_id]
    assert letter["original_queue"] == topology.COMMAND_QUEUE  # the broker's x-death, not the header

    replayed = await run(operator, "dlq", "replay", "--all", "--json")
    people = await run(operator, "dlq", "replay", "--all")

    assert replayed.returncode == 1, replayed.stdout + replayed.stderr
    refused = {item["message_id"]: item["problem"] for item in json.loads(replayed.stdout)["failed"]}
    why = 'refused: not a message of command-service.commands: the body names no "type"'
    assert refused[message_id] == why
    assert f"NOT replayed: {message_id}: {why}" in people.stdout
    assert message_id not in await taken(bare, topology.EVENT_QUEUE)
    assert message_id in await listed(operator, COMMAND_DLQ)


async def test_a_client_command_the_broker_dead_lettered_goes_back_to_the_command_queue_not_the_header(
    bare: str, operator: Cli
) -> None:
    command = CreateCustomer(name="Expired", locale="en").model_dump_json().encode()
    message_id = await expired_by_the_broker(bare, command, "CreateCustomer")
    await wait_listed(operator, COMMAND_DLQ, message_id)

    replayed = await run(operator, "dlq", "replay", message_id, "--json")

    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    [sent] = json.loads(replayed.stdout)["messages"]
    assert sent["original_queue"] == topology.COMMAND_QUEUE
    back = (await taken(bare, topology.COMMAND_QUEUE))[message_id]
    assert back.body == command
    assert not any(name.startswith("x-") for name in back.headers)  # a fresh start, x-death gone
    assert message_id not in await taken(bare, topology.EVENT_QUEUE)


@pytest.mark.parametrize(
    ("queue", "body", "type_"),
    [
        (topology.COMMAND_QUEUE, GetCustomer(customer_id=uuid4()).model_dump_json(), "CreateCustomer"),
        (topology.EVENT_QUEUE, json.dumps({"event": {"type": "Withdraw"}}), "CustomerCreated"),
        (topology.QUERY_QUEUE, ReadStream(stream_id=uuid4()).model_dump_json(), "GetCustomer"),
        (topology.STREAM_QUEUE, CreateCustomer(name="A", locale="en").model_dump_json(), "ReadStream"),
    ],
    ids=["query-as-command", "command-as-event", "stream-read-as-query", "command-as-stream-read"],
)
async def test_a_dead_letter_whose_body_is_no_message_of_its_queue_is_refused_and_kept(
    bare: str, operator: Cli, queue: str, body: str, type_: str
) -> None:
    dlq = topology.dead_letter_queue(queue)
    # As our services dead-letter (no x-death), the type property naming a message of the queue.
    message_id = await publish(
        bare, body.encode(), routing_key=dlq, type_=type_, headers={"x-original-queue": queue}
    )
    await wait_listed(operator, dlq, message_id)

    replayed = await run(operator, "dlq", "replay", message_id, "--queue", queue, "--json")

    assert replayed.returncode == 1, replayed.stdout + replayed.stderr
    [refused] = json.loads(replayed.stdout)["failed"]
    assert refused["message_id"] == message_id
    assert refused["problem"].endswith(f"not a message {queue} takes")
    assert message_id not in await taken(bare, queue)
    assert message_id in await wait_listed(operator, dlq, message_id)


async def test_a_dead_letter_whose_header_names_another_queue_than_its_dead_letter_queue_is_refused(
    bare: str, operator: Cli
) -> None:
    event = envelope(CustomerCreated(customer_id=uuid4(), name="Moved", locale="en"), 1)
    message_id = await publish(
        bare,
        event.model_dump_json().encode(),
        routing_key=COMMAND_DLQ,
        type_="CustomerCreated",
        headers={"x-original-queue": topology.EVENT_QUEUE},
    )
    await wait_listed(operator, COMMAND_DLQ, message_id)

    replayed = await run(operator, "dlq", "replay", message_id, "--json")

    assert replayed.returncode == 1, replayed.stdout + replayed.stderr
    [refused] = json.loads(replayed.stdout)["failed"]
    assert refused["problem"] == (
        "refused: its x-original-queue header says it came from 'query-service.events', but it lies "
        "in command-service.commands.dlq, whose messages go back only to command-service.commands"
    )
    assert message_id not in await taken(bare, topology.EVENT_QUEUE)
