"""Hostile commands and queries, made by hypothesis, against a pair of its own: each gets a
structured reply (an error, or an answer where the breakage left a valid message), none an internal
error; both services stay up and ready, and a good command and query right after are handled.

`make test` sends CQRS_FUZZ_MESSAGES (default 1,000); `make fuzz` sends 10,000.
"""

import asyncio
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import TypeAdapter

from cqrs_client.client import CqrsClient
from cqrs_contracts import CommandReply, CreateCustomer, ErrorCode, GetCustomer
from cqrs_contracts.replies import QueryFailed, QueryOk
from tests.builders import accepted
from tests.fuzz import Hostile, hostile_messages, sender
from tests.own import Own, Services, own_resources, running
from tests.resources import Servers

pytestmark = pytest.mark.timeout(900)

MESSAGES = int(os.environ.get("CQRS_FUZZ_MESSAGES", "1000"))
AT_ONCE = 64
COMMAND_REPLY = TypeAdapter[CommandReply](CommandReply)
QUERY_REPLY = TypeAdapter[QueryOk[Any] | QueryFailed](QueryOk[Any] | QueryFailed)


async def test_hostile_messages_get_structured_replies_and_the_pair_carries_on(
    servers: Servers, tmp_path: Path
) -> None:
    messages = hostile_messages(MESSAGES)
    assert len(messages) >= MESSAGES * 0.9, f"hypothesis made only {len(messages)} messages"
    async with own_resources(servers) as own, running(own.env, tmp_path) as services:
        began = time.monotonic()
        codes = await _send_all(own, messages)
        took = time.monotonic() - began
        print(f"\n{len(messages)} hostile messages in {took:.1f} s; replies by code: {dict(codes)}")
        assert codes[ErrorCode.INTERNAL_ERROR.value] == 0, codes
        assert sum(codes.values()) == len(messages)
        await _still_ready(services)
        async with CqrsClient.connect(own.env["CQRS_RABBITMQ_URL"], timeout=30) as client:
            made = accepted(await client.send(CreateCustomer(name="After The Storm", locale="en")))
            view = await client.ask(GetCustomer(customer_id=made.id, min_version=1))
        assert view.name == "After The Storm"


async def _send_all(own: Own, messages: list[Hostile]) -> Counter[str]:
    """Send every message (AT_ONCE in flight); the reply's error code, or its status, per message."""
    async with sender(own.env["CQRS_RABBITMQ_URL"]) as send:
        limit = asyncio.Semaphore(AT_ONCE)
        sent: list[tuple[str, Hostile]] = []

        async def one(item: Hostile) -> None:
            async with limit:
                correlation_id = await send.send(item)
                sent.append((correlation_id, item))
                await send.wait_for([correlation_id], timeout=30)

        await asyncio.gather(*(one(item) for item in messages))
        missing = await send.wait_for([c for c, _ in sent], timeout=30)
        assert not missing, f"{len(missing)} messages got no reply, e.g. {_first(sent, missing)}"
        return Counter(_code(send.replies[c], item) for c, item in sent)


def _code(body: bytes, item: Hostile) -> str:
    """The reply's error code (or its status); it must be one of the pair's reply shapes."""
    if item.target == "command":
        command = COMMAND_REPLY.validate_json(body)
        return command.error.code.value if command.status == "rejected" else "accepted"
    query = QUERY_REPLY.validate_json(body)
    return query.error.code.value if isinstance(query, QueryFailed) else "ok"


def _first(sent: list[tuple[str, Hostile]], missing: list[str]) -> Hostile:
    return next(item for c, item in sent if c == missing[0])


async def _still_ready(services: Services) -> None:
    for service in (services.command, services.query):
        assert service.process.poll() is None, f"{service.name} exited:\n{service.output()[-3000:]}"
        async with aiohttp.ClientSession() as session, session.get(service.url + "/readyz") as response:
            assert response.status == 200, await response.text()
