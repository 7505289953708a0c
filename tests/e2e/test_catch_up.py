"""A query service that starts behind catches up by itself from the command side (ReadAll), then
follows the live events: beside an event store with history and an empty read database, and after
being down while the broker lost its queue. Before issue 23 the first listed every older document
as missing until an operator ran `cqrs projection rebuild`.
"""

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import aio_pika
import aiohttp
import asyncpg
import pytest

from cqrs_client.client import CqrsClient
from cqrs_client.errors import RemoteError
from cqrs_client.messaging import topology
from cqrs_contracts import CreateCustomer, CustomerCreated, ErrorCode, GetAccount, GetCustomer
from tests.builders import accepted, envelope, insert_events, insert_streams, savings
from tests.own import Own, own_resources, running
from tests.own import verified as own_verified
from tests.pair import Service, start, wait_ready
from tests.resources import Servers
from tests.waiting import until

pytestmark = pytest.mark.timeout(300)

CUSTOMERS, DEPOSITS = 60, 100  # 60 customers with an account of 100 deposits: 6,120 events


@pytest.fixture
async def own(servers: Servers) -> Any:
    async with own_resources(servers) as own:
        yield own


async def import_history(own: Own) -> tuple[list[UUID], list[UUID], int]:
    """A history written around the command side, as published: no queue ever carried it."""
    clock = iter(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=n) for n in range(10**6))
    customers, accounts = [uuid4() for _ in range(CUSTOMERS)], [uuid4() for _ in range(CUSTOMERS)]
    streams = [
        [envelope(CustomerCreated(customer_id=c, name=f"Old {n}", locale="en"), 1, at=next(clock))]
        for n, c in enumerate(customers)
    ]
    streams += [savings(a, c, DEPOSITS, clock) for a, c in zip(accounts, customers, strict=True)]
    conn = await asyncpg.connect(own.dsn)
    try:
        await insert_events(conn, [item for stream in streams for item in stream], published=True)
        await insert_streams(conn, streams)
    finally:
        await conn.close()
    return customers, accounts, sum(len(stream) for stream in streams)


async def numbered(own: Own, events: int) -> None:
    """Until the command service's relay has given every event its global position."""

    async def all_numbered() -> bool:
        conn = await asyncpg.connect(own.dsn)
        try:
            return bool(await conn.fetchval("SELECT count(position) FROM events") >= events)
        finally:
            await conn.close()

    await until(all_numbered, timeout=60, what="the relay numbering the imported events")


async def readiness(service: Service) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.get(service.url + "/readyz") as response:
        found: dict[str, Any] = json.loads(await response.text())
        return found


async def test_an_empty_read_model_beside_a_history_catches_up_before_it_reports_ready(
    own: Own, tmp_path: Path
) -> None:
    command = start("command-own", "command_service", own.env, tmp_path)
    query = None
    try:
        await wait_ready(command)
        customers, accounts, events = await import_history(own)
        await numbered(own, events)
        query = start("query-own", "query_service", own.env, tmp_path)

        async def catching_up() -> dict[str, Any] | None:
            try:
                found = await readiness(query)
            except aiohttp.ClientError:
                return None  # not listening yet
            return found if "catching up" in str(found["checks"]["catch_up"].get("reason")) else None

        behind = await until(catching_up, timeout=60, what="readiness saying catching up")
        assert behind["ready"] is False
        async with CqrsClient.connect(own.env["CQRS_RABBITMQ_URL"], timeout=10) as client:
            with pytest.raises(RemoteError) as refused:
                await client.ask(GetCustomer(customer_id=customers[-1]))
            assert refused.value.info.code == ErrorCode.VIEW_BEHIND
            assert "catching up" in str(refused.value)
            await wait_ready(query, timeout=120)
            assert (await readiness(query))["checks"]["catch_up"]["ok"] is True
            for customer, account in zip(customers[::10], accounts[::10], strict=True):
                view = await client.ask(GetCustomer(customer_id=customer))
                assert [a.id for a in view.accounts] == [account]
                assert (await client.ask(GetAccount(account_id=account))).balance == DEPOSITS
            # Then it follows the live events: a new customer shows up as ever.
            created = accepted(await client.send(CreateCustomer(name="Newer", locale="en")))
            assert (
                await client.ask(GetCustomer(customer_id=created.id, token=created.token))
            ).name == "Newer"
        verified = await own_verified(own)
        assert verified["differences"] == [], verified
        assert verified["checked"] >= 2 * CUSTOMERS + 1
    finally:
        for service in (command, query):
            if service is not None:
                assert service.stop() == 0, service.output()


async def test_a_query_service_down_longer_than_the_broker_kept_its_queue_catches_up_at_start(
    own: Own, tmp_path: Path
) -> None:
    async with running(own.env, tmp_path) as services:
        async with CqrsClient.connect(own.env["CQRS_RABBITMQ_URL"], timeout=10) as client:
            before = accepted(await client.send(CreateCustomer(name="Before", locale="en")))
            await client.ask(GetCustomer(customer_id=before.id, token=before.token))
            assert services.query.stop() == 0
            # The broker loses the query service's queue while it is down (deleted here; a queue
            # TTL or a lost node would do the same); another subscriber's queue takes the events,
            # so they are published, and gone for the query service.
            await _lose_event_queue(own)
            missed = [
                accepted(await client.send(CreateCustomer(name=f"Missed {n}", locale="en"))) for n in range(5)
            ]
            await asyncio.sleep(1.5)  # published meanwhile (the relay polls every 0.5 s here)
            services.query = start("query-own", "query_service", own.env, tmp_path)
            await wait_ready(services.query)
            for reply in missed:
                # No token: the view must have them as soon as it says it is ready.
                assert (await client.ask(GetCustomer(customer_id=reply.id))).version == 1
        assert "catching up from position" in services.query.output()


async def _lose_event_queue(own: Own) -> None:
    connection = await aio_pika.connect(own.amqp_url)
    async with connection:
        channel = await connection.channel()
        events = await topology.declare_events(channel)
        other = await channel.declare_queue("someone-else", auto_delete=False)
        await other.bind(events, routing_key="#")
        await channel.queue_delete(topology.EVENT_QUEUE)


async def test_a_replica_starting_beside_one_that_follows_the_live_events_leaves_the_catching_up_to_it(
    own: Own, tmp_path: Path
) -> None:
    async with running(own.env, tmp_path) as services:
        second = start("query-own-2", "query_service", own.env, tmp_path)
        try:
            await wait_ready(second)
            # It would write the documents the first one writes (FerretDB v1 could lose one of two
            # such writes); the first keeps the read model up to date.
            assert "no catch-up: replica" in second.output(), second.output()
            async with CqrsClient.connect(own.env["CQRS_RABBITMQ_URL"], timeout=10) as client:
                created = accepted(await client.send(CreateCustomer(name="Both", locale="en")))
                view = await client.ask(GetCustomer(customer_id=created.id, token=created.token))
                assert view.name == "Both"
        finally:
            assert second.stop() == 0, second.output()
        assert "catching up from position 0" in services.query.output()
