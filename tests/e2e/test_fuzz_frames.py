"""Hostile frames, written raw, against a pair of its own: properties and header tables that no
ordinary client writes (timestamps past year 9999, text that is not UTF-8, header tables thousands
deep, headers tens of kilobytes long, numbers out of range, reply addresses the sender chose).

Every message carries a body of an unknown type, so each one that the envelope checks let through is
refused too: every message sent must end in its queue's dead-letter queue, within its bound, with a
reason and never `internal_error`; both services stay up and ready, and serve right after.
`make test` sends CQRS_FUZZ_FRAMES of each kind (default 50) to each service; `make fuzz` 10,000.
"""

import asyncio
import json
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import cast

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from cqrs_client.client import CqrsClient
from cqrs_client.messaging import topology
from cqrs_contracts import CreateCustomer, GetCustomer
from tests.builders import accepted
from tests.e2e.test_fuzz import _still_ready
from tests.hostile_frames import content_header, publish_frames
from tests.own import own_resources, running
from tests.raw_amqp import raw_publisher
from tests.resources import Servers
from tests.waiting import until

pytestmark = pytest.mark.timeout(3600)

PER_KIND = int(os.environ.get("CQRS_FUZZ_FRAMES", "50"))
BATCH = 200
# Each kind's messages are all dead-lettered within this, plus a millisecond a message.
BOUND_SECONDS = 30.0
YEAR_10000 = 253402300800  # seconds; pamqp reads numbers above 2^32 as milliseconds
Hostile = dict[str, object]


def _timestamp(rng: random.Random) -> Hostile:
    return {"timestamp": rng.randrange(YEAR_10000 * 1000, 2**64)}


def _not_utf8(rng: random.Random) -> Hostile:
    return {"bad_text_in": rng.choice(["message_id", "message_type", "reply_to", "correlation_id", "app_id"])}


def _header_key(rng: random.Random) -> Hostile:
    return {"bad_header_key": True}


def _deep(rng: random.Random) -> Hostile:
    return {"deep": rng.randrange(9, 6000)}


def _long_header(rng: random.Random) -> Hostile:
    name = rng.choice(["schema_version", "traceparent", "causation_id", "x-error-message"])
    text = rng.choice(["9" * rng.randrange(4301, 40_000), "a." * rng.randrange(5_000, 30_000)])
    return {"properties": {"headers": {name: text}}}


def _numbers(rng: random.Random) -> Hostile:
    headers = {
        "schema_version": rng.choice([rng.randrange(2**33, 2**63), -rng.randrange(129, 2**31), 0, True]),
        "x-attempt": rng.choice([rng.randrange(2**40, 2**63), -(2**40)]),
        "x-delivery-count": rng.choice(["many", 2**62, None]),
    }
    return {"properties": {"headers": headers}, "small_negative": True}


def _reply_to(rng: random.Random) -> Hostile:
    named = [topology.COMMAND_QUEUE, topology.EVENT_QUEUE, topology.retry_queue(topology.EVENT_QUEUE, 1)]
    chosen = rng.choice([*named, "".join(rng.choice("abc.-_:/") for _ in range(rng.randrange(1, 255)))])
    return {"properties": {"reply_to": chosen}}


KINDS: dict[str, Callable[[random.Random], Hostile]] = {
    "timestamp past 9999": _timestamp,
    "property not UTF-8": _not_utf8,
    "header key not UTF-8": _header_key,
    "header tables deep": _deep,
    "header tens of KB long": _long_header,
    "numbers out of range": _numbers,
    "reply_to chosen by the sender": _reply_to,
}
TARGETS = {
    topology.COMMAND_QUEUE: (topology.COMMANDS_EXCHANGE, "FuzzNoSuchCommand"),
    topology.QUERY_QUEUE: (topology.QUERIES_EXCHANGE, topology.QUERY_QUEUE),
}


def frames(kind: str, queue: str, count: int, rng: random.Random) -> list[bytes]:
    exchange, routing_key = TARGETS[queue]
    made = []
    for n in range(count):
        body = json.dumps({"type": "FuzzNoSuchMessage", "kind": kind, "n": n}).encode()
        hostile = KINDS[kind](rng)
        given = cast(dict[str, object], hostile.pop("properties", {}))
        properties = {"message_id": f"00000000-0000-4000-8000-{n:012d}", **given}
        header = content_header(len(body), properties=properties, **hostile)  # type: ignore[arg-type]
        made.append(publish_frames(exchange, routing_key, body, header))
    return made


async def depth(channel: AbstractChannel, queue: str) -> int:
    declared = await channel.declare_queue(topology.dead_letter_queue(queue), passive=True)
    return declared.declaration_result.message_count or 0


async def drain_codes(channel: AbstractChannel, queue: str, count: int) -> Counter[str]:
    """Take ``count`` dead letters out of ``queue``'s .dlq: their reasons, counted."""
    codes: Counter[str] = Counter()
    done = asyncio.Event()
    dlq = await channel.get_queue(topology.dead_letter_queue(queue))

    async def take(message: AbstractIncomingMessage) -> None:
        codes[str(message.headers.get("x-error-code", "(none)"))] += 1
        if sum(codes.values()) >= count:
            done.set()

    tag = await dlq.consume(take, no_ack=True)
    async with asyncio.timeout(60 + count / 100):
        await done.wait()
    await dlq.cancel(tag)
    return codes


async def test_hostile_frames_are_each_dead_lettered_within_their_bound_and_the_pair_carries_on(
    servers: Servers, tmp_path: Path
) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    print(f"\nframe fuzz: seed {seed}, {PER_KIND} of each of {len(KINDS)} kinds to each service")
    async with own_resources(servers) as own, running(own.env, tmp_path) as services:
        url = own.env["CQRS_RABBITMQ_URL"]
        connection = await aio_pika.connect(url)
        async with connection, raw_publisher(url) as send:
            channel = await connection.channel()
            channel.default_exchange  # noqa: B018 (the channel is opened)
            for kind in KINDS:
                for queue in TARGETS:
                    made = frames(kind, queue, PER_KIND, rng)
                    began = time.monotonic()
                    before = await depth(channel, queue)
                    for start in range(0, len(made), BATCH):
                        await send.many(made[start : start + BATCH])
                    bound = BOUND_SECONDS + PER_KIND / 1000

                    async def all_dead(queue: str = queue, wanted: int = before + PER_KIND) -> bool:
                        return await depth(channel, queue) >= wanted

                    await until(all_dead, timeout=bound, what=f"{kind} to {queue} dead-lettered")
                    took = time.monotonic() - began
                    codes = await drain_codes(channel, queue, before + PER_KIND)
                    print(f"  {kind} -> {queue}: {PER_KIND} dead-lettered in {took:.1f} s; {dict(codes)}")
                    assert codes["internal_error"] == 0, codes
                    assert codes["(none)"] == 0, codes
                    assert await depth(channel, queue) == 0
        await _still_ready(services)
        async with CqrsClient.connect(url, timeout=30) as client:
            made_customer = accepted(await client.send(CreateCustomer(name="After The Frames", locale="en")))
            view = await client.ask(GetCustomer(customer_id=made_customer.id, min_version=1))
        assert view.name == "After The Frames"
        for service in (services.command, services.query):
            assert "reconnect" not in service.output().lower(), service.output()[-3000:]
