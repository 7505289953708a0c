"""Operability under faults: readiness and the outbox backlog through a broker outage; a poisoned
event parked after its retry budget while other customers project, then replayed by `cqrs dlq`.
"""

import asyncio
import json
import signal
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import aiohttp
import asyncpg
from pymongo import AsyncMongoClient

from cqrs_client.client import CqrsClient
from cqrs_contracts import CreateCustomer, CustomerCreated, GetCustomer, OpenAccount
from tests import scrape
from tests.builders import accepted, envelope, insert_events
from tests.own import Own, own_resources, running
from tests.pair import Cli, Service
from tests.resources import Servers
from tests.waiting import until


async def probe(service: Service, path: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(service.url + path) as response:
        return response.status, await response.json()


async def metric(service: Service, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    return await scrape.metric(service.url, name, **labels)


def equals(wanted: float, read: Callable[[], Awaitable[float]]) -> Callable[[], Awaitable[bool]]:
    async def holds() -> bool:
        return await read() == wanted

    return holds


async def steer(own: Own, expect: str) -> None:
    """Take the broker away, or bring it back (the proxy says which it did)."""
    assert own.proxy is not None
    assert own.proxy.stdout is not None
    own.proxy.send_signal(signal.SIGUSR2)
    assert (await own.proxy.stdout.readline()).decode().strip() == expect


async def test_readiness_and_the_outbox_backlog_follow_a_broker_outage(
    servers: Servers, tmp_path: Path
) -> None:
    async with (
        own_resources(servers, {"CQRS_BROKER_GRACE": "300"}, proxied=True) as own,
        running(own.env, tmp_path) as services,
    ):
        command = services.command
        assert (await probe(command, "/readyz"))[0] == 200
        await steer(own, "down")

        async def not_ready() -> bool:
            status, body = await probe(command, "/readyz")
            return status == 503 and body["checks"]["broker"]["ok"] is False

        await until(not_ready, timeout=20, what="/readyz 503 with the broker down")
        conn = await asyncpg.connect(own.dsn)
        try:
            events = [
                envelope(CustomerCreated(customer_id=UUID(int=n), name=f"Out {n}", locale="en"), 1)
                for n in range(1, 6)
            ]
            await insert_events(conn, events)
        finally:
            await conn.close()
        backlog = lambda: metric(command, "cqrs_outbox_backlog_events")  # noqa: E731
        await until(equals(5, backlog), timeout=20, what="a backlog of 5")
        assert (await probe(command, "/readyz"))[1]["outbox"]["backlog"] == 5
        assert await metric(command, "cqrs_broker_connected") == 0
        await steer(own, "up")

        async def ready() -> bool:
            return (await probe(command, "/readyz"))[0] == 200

        await until(ready, timeout=30, what="/readyz 200 with the broker back")
        await until(equals(0, backlog), timeout=30, what="the backlog published")
        assert await metric(command, "cqrs_broker_connected") == 1
        assert await metric(command, "cqrs_commit_to_publish_seconds_count") >= 5


async def test_a_poisoned_event_is_parked_while_others_project_and_a_replay_applies_it(
    servers: Servers, tmp_path: Path
) -> None:
    overrides = {"CQRS_RETRY_ATTEMPTS": "3", "CQRS_RETRY_DELAY": "0.2"}
    async with (
        own_resources(servers, overrides) as own,
        running(own.env, tmp_path) as services,
        CqrsClient.connect(own.amqp_url, timeout=10) as client,
    ):
        a = accepted(await client.send(CreateCustomer(name="Poisoned", locale="en")))
        b = accepted(await client.send(CreateCustomer(name="Healthy", locale="en")))
        await client.ask(GetCustomer(customer_id=a.id, min_version=1))
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(own.env["CQRS_MONGODB_URL"])
        async with mongo:
            customers = mongo[own.read_db]["customers"]
            # Bad data the server refuses to write through: every projection into it fails.
            await customers.update_one({"_id": str(a.id)}, {"$set": {"accounts": "corrupt"}})
            poisoned = accepted(await client.send(OpenAccount(customer_id=a.id)))
            healthy = accepted(await client.send(OpenAccount(customer_id=b.id)))
            view = await client.ask(GetCustomer(customer_id=b.id, token=healthy.token))
            assert [account.id for account in view.accounts] == [healthy.id]

            event_id = await _event_id(own.dsn, poisoned.id)
            letters = await _parked(own, event_id)
            assert letters[event_id]["error_code"] == "internal_error"
            assert "Cannot create field" in letters[event_id]["reason"]
            retried = await metric(
                services.query, "cqrs_messages_handled_total", type="AccountOpened", outcome="retried"
            )
            assert retried == 2  # attempts 1 and 2 retried, attempt 3 parked

            await customers.update_one({"_id": str(a.id)}, {"$unset": {"accounts": ""}})
        replayed = await _cli(own, "dlq", "replay", event_id, "--json")
        assert replayed.returncode == 0, replayed.stdout + replayed.stderr
        fixed = await client.ask(GetCustomer(customer_id=a.id, token=poisoned.token))
        assert [account.id for account in fixed.accounts] == [poisoned.id]


async def _event_id(dsn: str, stream_id: UUID) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        return str(await conn.fetchval("SELECT event_id FROM events WHERE stream_id = $1", stream_id))
    finally:
        await conn.close()


async def _parked(own: Own, event_id: str) -> dict[str, dict[str, Any]]:
    async def listed() -> dict[str, dict[str, Any]] | None:
        done = await _cli(own, "dlq", "list", "query-service.events", "--json")
        letters = {
            letter["message_id"]: letter
            for queue in json.loads(done.stdout)["queues"]
            for letter in queue["letters"]
        }
        return letters if event_id in letters else None

    return await until(listed, timeout=30, what=f"event {event_id} parked")


async def _cli(own: Own, *args: str) -> subprocess.CompletedProcess[str]:
    """`cqrs ...` on the own pair's vhost (directly, not through its proxy)."""
    return await asyncio.to_thread(Cli({**own.env, "CQRS_RABBITMQ_URL": own.amqp_url}), *args)
