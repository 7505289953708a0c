"""Bad input never crashes a service nor blocks a queue: error replies and dead letters with reasons."""

import asyncio
import json
from uuid import uuid4

import aio_pika
import pytest

from cqrs_client.messaging import topology
from tests.e2e.raw import find_dead_letter, raw_channel
from tests.pair import Pair

COMMAND_DLQ = topology.dead_letter_queue(topology.COMMAND_QUEUE)
QUERY_DLQ = topology.dead_letter_queue(topology.QUERY_QUEUE)


def create_body(name: str = "Ada") -> bytes:
    return json.dumps({"type": "CreateCustomer", "name": name, "locale": "en"}).encode()


@pytest.mark.parametrize(
    ("body", "message_id", "code"),
    # (A missing message_id cannot be sent from here: aiormq fills in a random one.)
    [
        (b"{not json", str(uuid4()), "malformed_message"),
        (b'{"no": "type"}', str(uuid4()), "malformed_message"),
        (create_body(), "not-a-uuid", "malformed_message"),
        (b'{"type": "DropTables"}', str(uuid4()), "unknown_command"),
        # Over CQRS_MAX_MESSAGE_BYTES (64 KiB): refused before it is parsed.
        (create_body("x" * 70_000), str(uuid4()), "message_too_large"),
    ],
)
async def test_unusable_commands_get_an_error_reply_and_a_dead_letter_with_the_reason(
    pair: Pair, body: bytes, message_id: str | None, code: str
) -> None:
    async with raw_channel(pair.env["CQRS_RABBITMQ_URL"]) as raw:
        sent = await raw.publish(
            body, exchange=topology.COMMANDS_EXCHANGE, routing_key="x", message_id=message_id
        )
        reply = await raw.reply(sent)
        dead = await find_dead_letter(raw.channel, COMMAND_DLQ, sent)
    assert reply["status"] == "rejected"
    assert reply["error"]["code"] == code
    assert dead.body == body
    assert dead.headers["x-error-code"] == code
    assert dead.headers["x-error-message"] == reply["error"]["message"]
    assert pair.command.process.poll() is None


@pytest.mark.parametrize(
    ("routing_key", "type_"), [("CreateCustomer", None), ("Withdraw", "CreateCustomer"), ("Withdraw", None)]
)
async def test_a_command_routed_or_typed_as_another_is_malformed_and_not_run(
    pair: Pair, routing_key: str, type_: str | None
) -> None:
    # Routing key and type CreateCustomer around a Withdraw body: the Withdraw ran (issue 20).
    body = json.dumps({"type": "Withdraw", "account_id": str(uuid4()), "amount": "1.00"}).encode()
    if type_ is None and routing_key == "Withdraw":
        type_ = "Deposit"
    async with raw_channel(pair.env["CQRS_RABBITMQ_URL"]) as raw:
        sent = await raw.publish(
            body,
            exchange=topology.COMMANDS_EXCHANGE,
            routing_key=routing_key,
            message_id=str(uuid4()),
            type_=type_,
        )
        reply = await raw.reply(sent)
        dead = await find_dead_letter(raw.channel, COMMAND_DLQ, sent)
    assert reply["error"]["code"] == "malformed_message"
    assert "the body is a Withdraw" in reply["error"]["message"]
    assert dead.headers["x-error-code"] == "malformed_message"


async def test_a_reply_address_the_sender_chose_gets_nothing_and_is_dead_lettered(pair: Pair) -> None:
    # reply_to: command-service.commands made the query service write its reply there, and the
    # command service dead-lettered it: one more dead letter there per query (issue 20).
    body = json.dumps({"type": "GetPreferredCustomers"}).encode()
    async with raw_channel(pair.env["CQRS_RABBITMQ_URL"]) as raw:

        async def dead_commands() -> int:
            queue = await raw.channel.declare_queue(COMMAND_DLQ, passive=True)
            return queue.declaration_result.message_count or 0

        before = await dead_commands()
        correlation_id = str(uuid4())
        message = aio_pika.Message(
            body, message_id=str(uuid4()), correlation_id=correlation_id, reply_to=topology.COMMAND_QUEUE
        )
        await raw.channel.default_exchange.publish(message, routing_key=topology.QUERY_QUEUE)
        dead = await find_dead_letter(raw.channel, QUERY_DLQ, correlation_id)
        await asyncio.sleep(1.0)  # what the command service would have done with a reply, it has done
        after = await dead_commands()
    assert dead.headers["x-error-code"] == "forbidden"
    assert "reply_to" in str(dead.headers["x-error-message"])
    assert after == before


async def test_an_unusable_command_without_reply_to_is_dead_lettered(pair: Pair) -> None:
    async with raw_channel(pair.env["CQRS_RABBITMQ_URL"]) as raw:
        sent = await raw.publish(
            b"\x00\x01garbage", exchange=topology.COMMANDS_EXCHANGE, routing_key="x", reply=False
        )
        dead = await find_dead_letter(raw.channel, COMMAND_DLQ, sent)
    assert dead.headers["x-error-code"] == "malformed_message"


async def test_an_invalid_command_gets_per_field_errors_and_is_not_dead_lettered(pair: Pair) -> None:
    body = json.dumps({"type": "CreateCustomer", "name": "", "locale": "en_US", "color": "red"}).encode()
    async with raw_channel(pair.env["CQRS_RABBITMQ_URL"]) as raw:
        sent = await raw.publish(
            body, exchange=topology.COMMANDS_EXCHANGE, routing_key="CreateCustomer", message_id=str(uuid4())
        )
        reply = await raw.reply(sent)
    assert reply["error"]["code"] == "validation_error"
    assert set(reply["error"]["fields"]) == {"name", "locale", "color"}


async def test_a_redelivered_command_gets_the_same_reply_and_applies_once(pair: Pair) -> None:
    command_id = str(uuid4())
    async with raw_channel(pair.env["CQRS_RABBITMQ_URL"]) as raw:
        replies = []
        for _ in range(3):
            sent = await raw.publish(
                create_body(),
                exchange=topology.COMMANDS_EXCHANGE,
                routing_key="CreateCustomer",
                message_id=command_id,
                type_="CreateCustomer",
            )
            replies.append(await raw.reply(sent))
    assert replies[0]["status"] == "accepted"
    assert replies[1] == replies[0] == replies[2]
    import asyncpg

    conn = await asyncpg.connect(pair.postgres_dsn)
    try:
        count = await conn.fetchval("SELECT count(*) FROM events WHERE stream_id = $1", replies[0]["id"])
    finally:
        await conn.close()
    assert count == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"[]", "malformed_message"),
        (b'{"type": "GetEverything"}', "unknown_query"),
    ],
)
async def test_unusable_queries_get_an_error_reply_and_a_dead_letter(
    pair: Pair, body: bytes, code: str
) -> None:
    async with raw_channel(pair.env["CQRS_RABBITMQ_URL"]) as raw:
        sent = await raw.publish(body, routing_key=topology.QUERY_QUEUE, message_id=str(uuid4()))
        reply = await raw.reply(sent)
        dead = await find_dead_letter(raw.channel, QUERY_DLQ, sent)
    assert reply == {"status": "error", "error": reply["error"]}
    assert reply["error"]["code"] == code
    assert dead.headers["x-error-code"] == code
    assert pair.query.process.poll() is None


async def test_a_query_with_a_forged_cursor_is_a_validation_error(pair: Pair) -> None:
    body = json.dumps({"type": "GetPreferredCustomers", "after": "!!!"}).encode()
    async with raw_channel(pair.env["CQRS_RABBITMQ_URL"]) as raw:
        reply = await raw.reply(await raw.publish(body, routing_key=topology.QUERY_QUEUE))
    assert reply["error"]["code"] == "validation_error"


@pytest.mark.parametrize(
    ("queue", "body"),
    [
        (topology.COMMAND_QUEUE, create_body()),
        (topology.QUERY_QUEUE, json.dumps({"type": "GetPreferredCustomers"}).encode()),
    ],
)
async def test_a_schema_version_this_service_cannot_read_is_refused_and_dead_lettered(
    pair: Pair, queue: str, body: bytes
) -> None:
    async with raw_channel(pair.env["CQRS_RABBITMQ_URL"]) as raw:
        sent = await raw.publish(
            body, routing_key=queue, message_id=str(uuid4()), headers={"schema_version": 2}
        )
        reply = await raw.reply(sent)
        dead = await find_dead_letter(raw.channel, topology.dead_letter_queue(queue), sent)
    assert reply["error"]["code"] == "unsupported_schema_version"
    assert "schema_version 2 is newer than this reader's 1" in reply["error"]["message"]
    assert dead.body == body
    assert dead.headers["x-error-code"] == "unsupported_schema_version"


@pytest.mark.parametrize("version", [1, "1"])
async def test_schema_version_1_as_a_number_or_as_text_is_read(pair: Pair, version: int | str) -> None:
    async with raw_channel(pair.env["CQRS_RABBITMQ_URL"]) as raw:
        sent = await raw.publish(
            create_body(),
            routing_key=topology.COMMAND_QUEUE,
            message_id=str(uuid4()),
            headers={"schema_version": version},
        )
        reply = await raw.reply(sent)
    assert reply["status"] == "accepted"
