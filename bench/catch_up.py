"""`make bench-catch-up`: how fast does a query service with an empty read model catch up?

A pair on a vhost and databases of its own: the command service runs, an imported history of
CQRS_BENCH_EVENTS events (default 100,000: customers, each with an account of deposits) is written
into its event store as published (so no queue ever carried it), the relay numbers them, and then a
query service starts on the empty read database. Measured: the time from its start to ready (it
reports ready only once caught up), the catch-up rate (events/s, from the events it read and its
"catching up" to "caught up" log lines), and a sample of views checked against the history.
Needs the local servers (make servers); writes bench-results/catch_up.json.
"""

import asyncio
import json
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import asyncpg

from cqrs_client.client import CqrsClient
from cqrs_contracts import CustomerCreated, EventEnvelope, GetAccount, GetCustomer
from tests.builders import envelope, insert_events, insert_streams, savings
from tests.local_env import use_local_servers
from tests.pair import settings, start, wait_ready
from tests.resources import Servers, fresh_resources

EVENTS = int(os.environ.get("CQRS_BENCH_EVENTS", "100000"))
DEPOSITS = 98  # per account: a customer and its account are 100 events
RESULTS = Path("bench-results/catch_up.json")


def history(customers: int) -> tuple[list[list[EventEnvelope]], list[tuple[str, str]]]:
    clock = iter(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(milliseconds=n) for n in range(10**8))
    streams, pairs = [], []
    for n in range(customers):
        customer, account = uuid4(), uuid4()
        streams.append([envelope(CustomerCreated(customer_id=customer, name=f"C {n}", locale="en"), 1)])
        streams.append(savings(account, customer, DEPOSITS, clock))
        pairs.append((str(customer), str(account)))
    return streams, pairs


async def seed(dsn: str, streams: list[list[EventEnvelope]]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for n in range(0, len(streams), 200):
            chunk = streams[n : n + 200]
            await insert_events(conn, [item for stream in chunk for item in stream], published=True)
            await insert_streams(conn, chunk)
    finally:
        await conn.close()


async def numbered(dsn: str, events: int) -> float:
    started = time.monotonic()
    conn = await asyncpg.connect(dsn)
    try:
        while await conn.fetchval("SELECT count(position) FROM events") < events:  # noqa: ASYNC110 (polling a database)
            await asyncio.sleep(0.2)
    finally:
        await conn.close()
    return time.monotonic() - started


def logged_at(log: str, needle: str) -> float:
    for line in log.splitlines():
        if needle in line:
            stamp = json.loads(line)["time"]
            return datetime.fromisoformat(stamp).timestamp()
    raise AssertionError(f"no log line with {needle!r}")


async def main() -> None:
    use_local_servers()
    servers = Servers(
        os.environ["CQRS_RABBITMQ_URL"], os.environ["CQRS_TEST_POSTGRES_DSN"], os.environ["CQRS_MONGODB_URL"]
    )
    customers = max(EVENTS // (DEPOSITS + 2), 1)
    streams, pairs = history(customers)
    events = sum(len(stream) for stream in streams)
    logs = Path(tempfile.mkdtemp(prefix="bench-catch-up-"))
    async with fresh_resources(servers) as (vhost, dsn, read_db):
        env = {**settings(vhost, dsn, servers.mongodb, read_db), "CQRS_LOG_LEVEL": "INFO"}
        command = start("command", "command_service", env, logs)
        query = None
        try:
            await wait_ready(command)
            print(f"seeding {events:,} events ({customers:,} customers with an account each)", flush=True)
            await seed(dsn, streams)
            print(f"numbered by the relay in {await numbered(dsn, events):.1f} s", flush=True)
            started = time.monotonic()
            query = start("query", "query_service", env, logs)
            await wait_ready(query, timeout=3600)
            to_ready = time.monotonic() - started
            log = query.output()
            catching = logged_at(log, "catching up from position")
            caught = logged_at(log, "caught up at position")
            rate = events / (caught - catching)
            async with CqrsClient.connect(vhost, timeout=30) as client:
                for customer, account in pairs[:: max(len(pairs) // 20, 1)]:
                    view = await client.ask(GetCustomer(customer_id=customer))
                    assert [str(a.id) for a in view.accounts] == [account], view
                    assert (await client.ask(GetAccount(account_id=account))).balance == DEPOSITS
        finally:
            for service in (command, query):
                if service is not None:
                    service.stop()
    result = {
        "events": events,
        "start_to_ready_seconds": round(to_ready, 1),
        "catch_up_seconds": round(caught - catching, 1),
        "events_per_second": round(rate),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    await asyncio.to_thread(_write, result)
    print(
        f"caught up with {events:,} events in {result['catch_up_seconds']} s"
        f" ({rate:,.0f} events/s); start to ready {to_ready:.1f} s"
    )


def _write(result: dict[str, object]) -> None:
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
