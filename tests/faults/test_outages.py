"""Outages: the database drops every connection while commands flow; nothing is lost or doubled."""

import asyncio
from typing import Any
from uuid import uuid4

import asyncpg

from cqrs_client.client import CqrsClient
from cqrs_contracts import GetCustomer
from tests.e2e.raw import publish_creates, raw_channel
from tests.pair import Pair
from tests.waiting import until

COMMANDS = 200


async def sql(dsn: str, query: str, *args: object) -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


async def test_commands_survive_the_database_dropping_every_connection(pair: Pair) -> None:
    ids = [uuid4() for _ in range(COMMANDS)]
    async with raw_channel(pair.env["CQRS_RABBITMQ_URL"]) as raw:
        await publish_creates(raw, ids, "Outage")
        terminated = 0
        for _ in range(10):
            await asyncio.sleep(0.05)
            # Every connection of the service to its database, as a failover or a restart would.
            terminated += await sql(
                pair.postgres_dsn,
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND usename = current_user AND pid <> pg_backend_pid()",
            )
    assert terminated > 0

    async def all_applied() -> bool:
        count = await sql(pair.postgres_dsn, "SELECT count(*) FROM events WHERE stream_id = ANY($1)", ids)
        return bool(count == COMMANDS)

    await until(all_applied, timeout=60, what="every command after the outages")
    versions = await sql(
        pair.postgres_dsn, "SELECT count(*) FROM events WHERE stream_id = ANY($1) AND version = 1", ids
    )
    assert versions == COMMANDS
    async with CqrsClient.connect(pair.env["CQRS_RABBITMQ_URL"]) as client:
        last = await client.ask(GetCustomer(customer_id=ids[-1], min_version=1))
    assert last.name == "Outage"
    assert pair.command.process.poll() is None

    # The relay's own connection (its leadership lock and LISTEN) was among the terminated ones.
    async def relay_noticed() -> bool:
        return "relay failed" in pair.command.output()

    await until(relay_noticed, what="the relay to notice it lost its connection")
