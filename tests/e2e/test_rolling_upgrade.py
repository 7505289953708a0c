"""A rolling upgrade against real servers: this release's command service writes version-2 events
while the previous release's query service (strict, schema_version 1 only; built from git history)
still runs; then the query service is upgraded and the read model is right. And a version-1 event
as the previous release stored it is projected through its upcaster.
"""

import asyncio
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

import aio_pika
import asyncpg
import pytest

from command_service.store import NOTIFY_CHANNEL
from cqrs_client.client import CqrsClient
from cqrs_client.messaging.topology import EVENT_QUEUE, dead_letter_queue, declare_query_queue
from cqrs_contracts import (
    AccountOpened,
    CreateCustomer,
    Deposit,
    EventEnvelope,
    GetAccount,
    GetAccountTransactions,
    GetCustomer,
    MakeCustomerPreferred,
    OpenAccount,
    Withdraw,
)
from cqrs_contracts.events import MoneyDeposited
from tests.builders import accepted, insert_events, stream
from tests.own import Own, own_resources
from tests.pair import Service, start, wait_ready
from tests.release import PREVIOUS_RELEASE, release
from tests.resources import Servers
from tests.waiting import until

pytestmark = pytest.mark.timeout(300)

EVENT_DLQ = dead_letter_queue(EVENT_QUEUE)
# The previous release dead-letters what it cannot repair after one quick retry.
QUICK = {"CQRS_RETRY_ATTEMPTS": "2", "CQRS_RETRY_DELAY": "0.2", "CQRS_REPAIR_TIMEOUT": "2"}


async def test_an_older_query_service_loses_nothing_the_upgraded_one_cannot_take_back(
    servers: Servers, tmp_path: Path
) -> None:
    previous = release(PREVIOUS_RELEASE)
    async with own_resources(servers, QUICK) as own:
        command = start("command-new", "command_service", own.env, tmp_path)
        try:
            old = start(
                "query-old", "query_service", own.env, tmp_path, python=str(previous), cwd=previous.parents[2]
            )
            try:
                await asyncio.gather(wait_ready(command), wait_ready(old))
                ada, account = await _while_the_old_reader_runs(own)
            finally:
                assert old.stop() == 0, old.output()
            new = start("query-new", "query_service", own.env, tmp_path)
            try:
                await wait_ready(new)
                await _after_the_upgrade(own, new, ada, account)
                await _a_stored_version_1_event_is_projected(own, ada)
            finally:
                assert new.stop() == 0, new.output()
        finally:
            # Stopped whatever failed before: a process left running fails a later test (its Popen
            # collected while it runs is a ResourceWarning, an error here).
            assert command.stop() == 0, command.output()


async def _queries_routed_to_the_old_reader(own: Own) -> None:
    """The upgrade's first step (docs/evolution.md): the previous release took queries on its queue
    by name; clients now send them to ``cqrs.queries``, which the new release binds to that queue.
    Its clients used to declare that binding themselves; they declare no queue any more."""
    connection = await aio_pika.connect(own.env["CQRS_RABBITMQ_URL"])
    async with connection:
        await declare_query_queue(await connection.channel())


async def _while_the_old_reader_runs(own: Own) -> tuple[UUID, UUID]:
    await _queries_routed_to_the_old_reader(own)
    async with CqrsClient.connect(own.env["CQRS_RABBITMQ_URL"], timeout=30) as client:
        ada = accepted(await client.send(CreateCustomer(name="Ada Upgrade", locale="en"))).id
        account = accepted(await client.send(OpenAccount(customer_id=ada, currency="EUR"))).id
        accepted(await client.send(Deposit(account_id=account, amount=Decimal("10"), reference="salary")))
        accepted(await client.send(Withdraw(account_id=account, amount=Decimal("3"))))
        preferred = accepted(await client.send(MakeCustomerPreferred(customer_id=ada)))
        # What it knows, the older reader applies: customer events (schema 1), the account's opening.
        view = await client.ask(GetCustomer(customer_id=ada, min_version=preferred.version))
        assert view.is_preferred
        opened = await client.ask(GetAccount(account_id=account, min_version=1))
        assert opened.balance == Decimal(0)
    # The version-2 events it cannot read wait in its dead-letter queue: the deposit (unknown
    # schema), the withdrawal (its gap repair reads the deposit again and fails).
    assert await until(lambda: _depth(own, EVENT_DLQ, 2), timeout=60, what="two dead letters") == 2
    return ada, account


async def _after_the_upgrade(own: Own, new: Service, ada: UUID, account: UUID) -> None:
    async with CqrsClient.connect(own.env["CQRS_RABBITMQ_URL"], timeout=30) as client:
        moved = await client.ask(GetAccount(account_id=account, min_version=3))
        assert moved.balance == Decimal("7.00")
        history = await client.ask(GetAccountTransactions(account_id=account))
        assert [(t.kind, t.amount, t.reference) for t in history.items] == [  # newest first
            ("withdrawal", Decimal("3.00"), ""),
            ("deposit", Decimal("10.00"), "salary"),
        ]
        view = await client.ask(GetCustomer(customer_id=ada))
        assert view.totals == {"EUR": Decimal("7.00")}
    assert await _depth(own, EVENT_DLQ, 0) == 0
    assert "took back 2 event(s)" in new.output()


async def _a_stored_version_1_event_is_projected(own: Own, ada: UUID) -> None:
    """Rows as the previous release wrote them: MoneyDeposited at schema_version 1, no reference."""
    savings = uuid4()
    opened = AccountOpened(account_id=savings, customer_id=ada, currency="EUR")
    deposit = MoneyDeposited(
        account_id=savings,
        customer_id=ada,
        currency="EUR",
        amount=Decimal(5),
        balance=Decimal(5),
        reference="",
    )

    def as_version_1(envelope: EventEnvelope) -> tuple[int, str]:
        return 1, envelope.event.model_dump_json(exclude={"reference"})

    conn = await asyncpg.connect(own.dsn)
    try:
        await insert_events(conn, stream(opened, deposit), stored_as=as_version_1)
        await conn.execute("SELECT pg_notify($1, '')", NOTIFY_CHANNEL)
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM events WHERE stream_id = $1 AND schema_version = 1", savings
            )
            == 2
        )
    finally:
        await conn.close()
    async with CqrsClient.connect(own.env["CQRS_RABBITMQ_URL"], timeout=30) as client:
        await client.ask(GetAccount(account_id=savings, min_version=2))
        history = await client.ask(GetAccountTransactions(account_id=savings))
    assert [(t.kind, t.amount, t.balance_after, t.reference) for t in history.items] == [
        ("deposit", Decimal("5.00"), Decimal("5.00"), "")
    ]


async def _depth(own: Own, queue: str, wanted: int) -> int | None:
    """``queue``'s message count when it is ``wanted``, else None."""
    connection = await aio_pika.connect(own.env["CQRS_RABBITMQ_URL"])
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        count = declared.declaration_result.message_count
    return count if count == wanted else None
