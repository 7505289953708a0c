"""Kill -9 in the middle of work: redelivery is harmless, nothing is lost, nothing applies twice."""

import signal
from uuid import uuid4

import asyncpg

from cqrs_client.client import CqrsClient
from cqrs_contracts import CreateCustomer, EditCustomerDetails, GetCustomer
from tests.builders import accepted
from tests.e2e.raw import publish_creates, raw_channel
from tests.pair import Pair
from tests.waiting import until

COMMANDS = 300


async def count(dsn: str, sql: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        value: int = await conn.fetchval(sql)
        return value
    finally:
        await conn.close()


async def test_command_service_killed_mid_stream_applies_every_command_exactly_once(pair: Pair) -> None:
    ids = [uuid4() for _ in range(COMMANDS)]
    before = await count(pair.postgres_dsn, "SELECT count(*) FROM events")
    async with raw_channel(pair.env["CQRS_RABBITMQ_URL"]) as raw:
        await publish_creates(raw, ids, "Crash")
        # Let it get part of the way, then pull the plug: no SIGTERM, no draining.
        await until(
            lambda: _applied_at_least(pair.postgres_dsn, before + 20), timeout=30, what="the first commands"
        )
        pair.command.process.send_signal(signal.SIGKILL)
        pair.command.process.wait(timeout=10)
        await pair.restart_command()

    async def all_applied() -> bool:
        return await count(pair.postgres_dsn, "SELECT count(*) FROM events") == before + COMMANDS

    await until(all_applied, timeout=60, what="every command after the restart")
    conn = await asyncpg.connect(pair.postgres_dsn)
    try:
        rows = await conn.fetch("SELECT stream_id, version FROM events WHERE stream_id = ANY($1)", ids)
        results = await conn.fetchval(
            "SELECT count(*) FROM command_results WHERE command_type = 'CreateCustomer'"
        )
    finally:
        await conn.close()
    assert sorted((row["stream_id"], row["version"]) for row in rows) == sorted((i, 1) for i in ids)
    assert results >= COMMANDS

    async def all_published() -> bool:
        return await count(pair.postgres_dsn, "SELECT count(*) FROM events WHERE published_at IS NULL") == 0

    await until(all_published, timeout=30, what="the relay to publish every event")


async def _applied_at_least(dsn: str, wanted: int) -> bool:
    return await count(dsn, "SELECT count(*) FROM events") >= wanted


async def test_query_service_killed_while_projecting_catches_up_after_restart(pair: Pair) -> None:
    async with CqrsClient.connect(pair.env["CQRS_RABBITMQ_URL"]) as client:
        created = accepted(await client.send(CreateCustomer(name="Q0", locale="en")))
        pair.query.process.send_signal(signal.SIGKILL)
        pair.query.process.wait(timeout=10)
        last = created
        for n in range(1, 30):
            last = accepted(await client.send(EditCustomerDetails(customer_id=created.id, name=f"Q{n}")))
        await pair.restart_query()
        wanted = GetCustomer(customer_id=created.id, min_version=last.version)
        view = await client.ask(wanted)
    assert (view.name, view.version) == ("Q29", 30)
