"""`cqrs projection rebuild|verify` on a pair of its own: the read model rebuilt from the event store
while queries and commands go on, a dropped read database brought back equal (with the rebuild's
process killed half-way), and a document changed by hand found by verify.

The event store is seeded with an imported history of more than 10,000 events (written around the
command side, as published, so the read model never had them): only a rebuild can bring them in.
"""

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from pymongo import AsyncMongoClient

from cqrs_client.client import CqrsClient
from cqrs_client.errors import RemoteError
from cqrs_contracts import (
    CommandAccepted,
    CreateCustomer,
    CustomerCreated,
    CustomerDetailsEdited,
    CustomerMadePreferred,
    Deposit,
    GetAccount,
    GetAccountTransactions,
    GetCustomer,
    GetPreferredCustomers,
)
from query_service.read_model import layout
from tests.builders import accepted, envelope, insert_events, insert_streams, savings
from tests.own import Own, Services, own_resources, running
from tests.pair import ROOT, start, wait_ready
from tests.resources import Servers
from tests.waiting import until

pytestmark = pytest.mark.timeout(600)

CUSTOMERS, PREFERRED, EDITED = 150, 40, 20
ACCOUNTS, DEPOSITS, BIG = 30, 290, 1_100
NUMBERING = (layout.PREFERRED_SEQ, layout.PREFERRED_BUCKET)


@dataclass
class History:
    customers: list[UUID]
    big_account: UUID
    big_owner: UUID
    events: int


@pytest.fixture(scope="module")
async def own(servers: Servers) -> AsyncIterator[Own]:
    async with own_resources(servers) as own:
        yield own


@pytest.fixture(scope="module", autouse=True)
async def services(own: Own, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Services]:
    """The pair on ``own``, for every test here (one may replace its query service)."""
    async with running(own.env, tmp_path_factory.mktemp("projection")) as services:
        yield services


@pytest.fixture(scope="module")
async def history(own: Own) -> History:
    """An imported history: customers (some preferred, some edited), one with three accounts, an
    account of BIG deposits, and ACCOUNTS accounts of DEPOSITS deposits each."""
    clock = iter(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=n) for n in range(10**6))
    customers = [uuid4() for _ in range(CUSTOMERS)]
    streams = [
        [envelope(CustomerCreated(customer_id=c, name=f"Imported {n % 7}", locale="en"), 1, at=next(clock))]
        for n, c in enumerate(customers)
    ]
    for n in range(EDITED):
        edit = CustomerDetailsEdited(customer_id=customers[n], name=f"Edited {n}", locale="fr-FR")
        streams[n].append(envelope(edit, 2, at=next(clock)))
    for n in range(PREFERRED):  # in an order unlike the ids'
        target = (n * 37) % CUSTOMERS
        streams[target].append(
            envelope(
                CustomerMadePreferred(customer_id=customers[target]), len(streams[target]) + 1, at=next(clock)
            )
        )
    owners = [customers[0]] * 3 + customers[1 : ACCOUNTS + 1]
    accounts = [(uuid4(), owner, BIG if n == 3 else DEPOSITS) for n, owner in enumerate(owners)]
    for account, owner, deposits in accounts:
        streams.append(savings(account, owner, deposits, clock))
    conn = await asyncpg.connect(own.dsn)
    try:
        await insert_events(conn, [item for stream in streams for item in stream], published=True)
        await insert_streams(conn, streams)
    finally:
        await conn.close()
    return History(customers, accounts[3][0], accounts[3][1], sum(len(s) for s in streams))


async def cqrs(own: Own, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    process = await cqrs_started(own, *args)
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert "Traceback" not in err.decode(), err.decode()
    return subprocess.CompletedProcess(args, process.returncode or 0, out.decode(), err.decode())


async def cqrs_started(own: Own, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cqrs_shared.cli",
        *args,
        env=own.env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def status(own: Own) -> dict[str, Any]:
    done = await cqrs(own, "projection", "status", "--json")
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


async def snapshot(own: Own) -> dict[str, dict[str, Any]]:
    """Every document of the generation queries read, by collection/id (the store's numbering aside)."""
    generation = (await status(own))["generation"]
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(own.env["CQRS_MONGODB_URL"], tz_aware=True)
    async with client:
        db = client[own.read_db]
        found = {}
        for collection in (layout.CUSTOMERS, layout.ACCOUNTS, layout.TRANSACTIONS):
            async for doc in db[layout.named(collection, generation)].find():
                found[f"{collection}/{doc[layout.ID]}"] = {k: v for k, v in doc.items() if k not in NUMBERING}
        return found


async def preferred_order(client: CqrsClient) -> list[UUID]:
    order: list[UUID] = []
    after = None
    while True:
        page = await client.ask(GetPreferredCustomers(limit=50, after=after))
        order += [item.id for item in page.items]
        if page.next is None:
            return order
        after = page.next


async def test_a_rebuild_brings_in_the_whole_event_store_while_queries_and_commands_go_on(
    own: Own, history: History
) -> None:
    async with CqrsClient.connect(own.env["CQRS_RABBITMQ_URL"], timeout=30) as client:
        live = accepted(await client.send(CreateCustomer(name="Live Before", locale="en")))
        with pytest.raises(RemoteError, match="not found"):
            await client.ask(GetCustomer(customer_id=history.customers[0]))
        rebuild = await cqrs_started(own, "projection", "rebuild")
        answered = 0
        during: list[CommandAccepted] = []
        second: subprocess.CompletedProcess[str] | None = None
        while rebuild.returncode is None:
            view = await client.ask(GetCustomer(customer_id=live.id, min_version=1))
            assert view.name == "Live Before"
            answered += 1
            if len(during) < 10:
                during.append(
                    accepted(
                        await client.send(CreateCustomer(name=f"Live During {len(during)}", locale="en"))
                    )
                )
            # A second request, once the service holds the first (the first CLI may still be
            # starting: a fresh-machine CI run sent the second first, and refused the first).
            if second is None and answered >= 5 and (await status(own))["running"]:
                second = await cqrs(own, "projection", "rebuild")
            await asyncio.sleep(0.05)
        out, err = await rebuild.communicate()
        assert rebuild.returncode == 0, err.decode()
        assert "rebuild:     done into generation 1" in out.decode(), out.decode()
        assert answered >= 10, f"only {answered} queries were answered during the rebuild"
        assert second is not None
        assert second.returncode == 5, second
        assert "refused: a rebuild into generation 1 is" in second.stderr, second.stderr

        for made in [live, *during]:
            assert (await client.ask(GetCustomer(customer_id=made.id))).version == 1
        imported = await client.ask(GetCustomer(customer_id=history.big_owner))
        assert [str(a.balance) for a in imported.accounts] == [f"{BIG}.00"]
        big = await client.ask(GetAccount(account_id=history.big_account))
        assert big.version == BIG + 1
        page = await client.ask(GetAccountTransactions(account_id=history.big_account, limit=500))
        assert [t.version for t in page.items] == list(range(BIG + 1, BIG + 1 - 500, -1))
        assert len(await preferred_order(client)) == PREFERRED
        progress = (await status(own))["rebuild"]
        assert progress["events_applied"] >= history.events >= 10_000

    verified = await cqrs(own, "projection", "verify", "--timeout", "60")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "no differences" in verified.stdout


async def test_a_dropped_read_database_is_rebuilt_equal_even_when_the_rebuild_is_killed(
    own: Own, history: History, services: Services, tmp_path: Path
) -> None:
    async with CqrsClient.connect(own.env["CQRS_RABBITMQ_URL"], timeout=30) as client:
        # One more event on the big account first: the projector fills nothing, it is in order.
        accepted(await client.send(Deposit(account_id=history.big_account, amount="1.00")))
        await client.ask(GetAccount(account_id=history.big_account, min_version=BIG + 2))
        before, order = await snapshot(own), await preferred_order(client)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(own.env["CQRS_MONGODB_URL"])
    async with mongo:
        await mongo.drop_database(own.read_db)

    rebuild = await cqrs_started(own, "projection", "rebuild")
    await until(_building_past(own, 50), timeout=120, what="the rebuild to be under way")
    services.query.process.send_signal(signal.SIGKILL)
    services.query.process.wait()
    replacement = start("query-own-2", "query_service", own.env, tmp_path)
    try:
        await wait_ready(replacement)
        _, err = await asyncio.wait_for(rebuild.communicate(), 300)
        assert rebuild.returncode == 0, err.decode()
        assert "resuming" in err.decode(), err.decode()
        after = await snapshot(own)
        async with CqrsClient.connect(own.env["CQRS_RABBITMQ_URL"], timeout=30) as client:
            assert await preferred_order(client) == order
        assert after.keys() == before.keys()
        changed = [key for key in before if before[key] != after[key]]
        assert not changed, (
            f"{len(changed)} documents differ, e.g. {changed[0]}: {before[changed[0]]} != {after[changed[0]]}"
        )
    finally:
        services.query = replacement


def _building_past(own: Own, streams: int) -> Any:
    async def probe() -> bool:
        progress = (await status(own))["rebuild"]
        return (
            progress is not None and progress["state"] == "building" and progress["streams_done"] >= streams
        )

    return probe


async def test_verify_finds_a_document_changed_by_hand_and_nothing_after_a_rebuild(
    own: Own, history: History
) -> None:
    generation = (await status(own))["generation"]
    target = str(history.customers[-1])  # neither edited nor a name another customer has
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(own.env["CQRS_MONGODB_URL"])
    async with mongo:
        customers = mongo[own.read_db][layout.named(layout.CUSTOMERS, generation)]
        await customers.update_one({layout.ID: target}, {"$set": {layout.NAME: "Changed By Hand"}})

    found = await cqrs(own, "projection", "verify", "--timeout", "60")
    assert found.returncode == 1, found.stdout + found.stderr
    assert (
        f'customers/{target}  name: expected "Imported {(CUSTOMERS - 1) % 7}", found "Changed By Hand"'
        in found.stdout
    )
    as_json = json.loads((await cqrs(own, "projection", "verify", "--timeout", "60", "--json")).stdout)
    assert [(d["document"], d["field"]) for d in as_json["differences"]] == [(f"customers/{target}", "name")]
    sampled = await cqrs(own, "projection", "verify", "--timeout", "60", "--sample", "5")
    assert "checked 5 of" in sampled.stdout

    rebuilt = await cqrs(own, "projection", "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    clean = await cqrs(own, "projection", "verify", "--timeout", "60")
    assert clean.returncode == 0, clean.stdout
    assert "no differences" in clean.stdout
