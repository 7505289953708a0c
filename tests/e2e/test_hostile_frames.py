"""Frames RabbitMQ passes on that the AMQP library below us could not read (issue 20): written raw,
they are dead-lettered or handled, the service keeps its connection, and what follows is served.

Before tolerant_frames.py, the first of these (a timestamp past year 9999) raised inside aiormq's
frame reader: the command queue had no consumer for 59 s of 60 and a restarted service met the same
message again, for good.
"""

import json
from uuid import uuid4

import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from cqrs_client.client import CqrsClient
from cqrs_client.messaging import topology
from cqrs_contracts import CreateCustomer
from tests.e2e.raw import raw_channel
from tests.hostile_frames import content_header, publish_frames
from tests.pair import Pair
from tests.raw_amqp import raw_publisher
from tests.waiting import until

# (case, the content header's hostile part, the dead letter's reason; None: handled as usual)
CASES: list[tuple[str, dict[str, object], str | None]] = [
    ("timestamp past 9999", {"timestamp": 2**62}, "malformed_message"),
    ("timestamp of max u64", {"timestamp": 2**64 - 1}, "malformed_message"),
    ("message_id not UTF-8", {"bad_text_in": "message_id"}, "malformed_message"),
    ("type not UTF-8", {"bad_text_in": "message_type"}, "malformed_message"),
    ("reply_to not UTF-8", {"bad_text_in": "reply_to"}, "forbidden"),
    ("correlation_id not UTF-8", {"bad_text_in": "correlation_id"}, None),
    ("header key not UTF-8", {"bad_header_key": True}, None),
    ("headers 5,000 tables deep", {"deep": 5000}, None),
]


def body(case: str) -> bytes:
    return json.dumps({"type": "CreateCustomer", "name": f"Hostile {case}", "locale": "en"}).encode()


async def dead_letters(channel: AbstractChannel, queue: str) -> dict[str, AbstractIncomingMessage]:
    """Every dead letter of ``queue``, taken out, by its body's name."""
    found: dict[str, AbstractIncomingMessage] = {}
    dlq = await channel.get_queue(topology.dead_letter_queue(queue))
    while (message := await dlq.get(fail=False, no_ack=True)) is not None:
        found[json.loads(message.body).get("name", "")] = message
    return found


@pytest.mark.parametrize("queue", [topology.COMMAND_QUEUE, topology.QUERY_QUEUE])
async def test_frames_the_amqp_library_could_not_read_are_settled_and_the_service_serves_on(
    pair: Pair, queue: str
) -> None:
    url = pair.env["CQRS_RABBITMQ_URL"]
    exchange, key = (
        (topology.COMMANDS_EXCHANGE, "CreateCustomer")
        if queue == topology.COMMAND_QUEUE
        else (topology.QUERIES_EXCHANGE, topology.QUERY_QUEUE)
    )
    async with raw_publisher(url) as send:
        for case, hostile, _ in CASES:
            properties: dict[str, object] = {"message_id": str(uuid4()), "message_type": "CreateCustomer"}
            await send(
                publish_frames(
                    exchange,
                    key,
                    body(case),
                    content_header(len(body(case)), properties=properties, **hostile),  # type: ignore[arg-type]
                )
            )
    async with CqrsClient.connect(url, timeout=10) as client:
        # What comes after the hostile frames is served, by the same connection.
        reply = await client.send(CreateCustomer(name="After", locale="en"))
        assert reply.status == "accepted"
    service = pair.command if queue == topology.COMMAND_QUEUE else pair.query
    assert service.process.poll() is None
    assert "reconnect" not in service.output().lower(), service.output()[-3000:]
    expected: dict[str, str | None] = {f"Hostile {case}": code for case, _, code in CASES if code is not None}
    if queue == topology.QUERY_QUEUE:
        # A CreateCustomer on the query queue is an unknown query, once its envelope passes the screen
        # (the envelope checks: the timestamp, the reply address).
        screened = {"timestamp", "reply_to"}
        expected = {
            f"Hostile {case}": code if any(word in case for word in screened) else "unknown_query"
            for case, _, code in CASES
        }
    async with raw_channel(url) as raw:
        letters: dict[str, AbstractIncomingMessage] = {}

        async def all_there() -> bool:
            letters.update(await dead_letters(raw.channel, queue))
            return set(expected) <= set(letters)

        await until(all_there, timeout=20, what=f"{sorted(expected)} dead-lettered")
    assert {name: letters[name].headers["x-error-code"] for name in expected} == expected
