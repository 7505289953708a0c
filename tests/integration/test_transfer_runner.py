"""The transfer process manager on the real PostgreSQL, its queue played by hand: each committed event
is handed to the runner as the relay would publish it. The sweeper gives again what was not given,
counts what is stuck; a forged event or an unreadable one moves nothing."""

import asyncio
from decimal import Decimal
from uuid import UUID, uuid4

import asyncpg
import pytest

from command_service import handler, metrics
from command_service.ports import PendingEvent, pending_event
from command_service.process.runner import Timing, TransferRunner
from command_service.process.store import ProcessStore, Tracked
from command_service.process.transfers import start, step_id
from command_service.store import PostgresEventStore
from cqrs_client.messaging.envelope import Delivery
from cqrs_contracts import (
    Command,
    CommandAccepted,
    CreateCustomer,
    Deposit,
    EventEnvelope,
    Metadata,
    MoneyWithdrawn,
    OpenAccount,
    TransferLeg,
    TransferMoney,
    TransferRequested,
)
from cqrs_contracts.base import ErrorCode
from cqrs_shared.messaging.consumer import Outcome
from cqrs_shared.runtime.keyed_lock import KeyedLock

FAST = Timing(step_timeout=0.05, budget=60, sweep_interval=0.05)


class Harness:
    """A runner, and the events it has been handed so far (by their seq in the event store)."""

    def __init__(self, pool: asyncpg.Pool, timing: Timing = FAST) -> None:
        self.pool = pool
        self.events = PostgresEventStore(pool)
        self.processes = ProcessStore(pool)
        self.runner = TransferRunner(self.processes, self.events, KeyedLock(), timing)
        self.after = 0

    async def send(self, command: Command) -> CommandAccepted:
        reply = await handler.handle(command, Metadata(type=command.type), self.events, sender="teller")
        assert isinstance(reply, CommandAccepted), reply
        return reply

    async def pump(self) -> None:
        """Hand the runner every event committed since the last pump, in commit order, until none."""
        while True:
            rows = await self.pool.fetch(
                # Every column, whatever columns the event store has grown (pending_event picks).
                "SELECT * FROM events WHERE seq > $1 ORDER BY seq",
                self.after,
            )
            if not rows:
                return
            for row in rows:
                self.after = row["seq"]
                outcome = await self.runner.on_event(delivery(pending_event(row)))
                assert outcome.dead_letter is None

    async def status(self, transfer_id: UUID) -> str:
        raw = await self.pool.fetchval(
            "SELECT state->>'status' FROM streams WHERE stream_id = $1", transfer_id
        )
        return str(raw)

    async def balance(self, account_id: UUID) -> str:
        raw = await self.pool.fetchval(
            "SELECT state->>'balance' FROM streams WHERE stream_id = $1", account_id
        )
        return str(raw)

    async def accounts(self, *deposits: str) -> list[UUID]:
        owner = await self.send(CreateCustomer(name="Payer", locale="en"))
        made = []
        for amount in deposits:
            account = await self.send(OpenAccount(customer_id=owner.id))
            if Decimal(amount) > 0:
                await self.send(Deposit(account_id=account.id, amount=amount))
            made.append(account.id)
        return made


def delivery(item: PendingEvent, body: bytes | None = None) -> Delivery:
    meta = item.metadata
    return Delivery(
        body=item.envelope.model_dump_json().encode() if body is None else body,
        message_id=str(meta.message_id),
        type=meta.type,
        correlation_id=meta.correlation_id,
        reply_to=None,
        traceparent=meta.traceparent,
        causation_id=meta.causation_id,
        routing_key=None,
    )


@pytest.fixture
def harness(pool: asyncpg.Pool) -> Harness:
    return Harness(pool)


async def test_a_transfer_runs_to_completion_on_the_events_it_is_handed(harness: Harness) -> None:
    source, destination = await harness.accounts("50.00", "0")
    sent = await harness.send(TransferMoney(from_account_id=source, to_account_id=destination, amount="20"))
    await harness.pump()
    assert await harness.status(sent.id) == "completed"
    assert [await harness.balance(a) for a in (source, destination)] == ["30.00", "20.00"]
    process = await harness.processes.get(sent.id)
    assert process is not None
    assert process.process.stage == "done"


async def test_a_redelivered_event_repeats_nothing(harness: Harness) -> None:
    source, destination = await harness.accounts("50.00", "0")
    sent = await harness.send(TransferMoney(from_account_id=source, to_account_id=destination, amount="20"))
    await harness.pump()
    everything = await harness.events.read_stream(source, 0, 100)
    for item in [*everything, *await harness.events.read_stream(sent.id, 0, 100)]:
        await harness.runner.on_event(delivery(item))
    assert [await harness.balance(a) for a in (source, destination)] == ["30.00", "20.00"]
    assert await harness.pool.fetchval("SELECT count(*) FROM events WHERE stream_id = $1", sent.id) == 3


async def test_a_forged_withdrawal_does_not_mark_the_transfer_debited(harness: Harness) -> None:
    source, destination = await harness.accounts("0", "0")
    sent = await harness.send(TransferMoney(from_account_id=source, to_account_id=destination, amount="20"))
    await harness.pump()  # the debit is refused: the transfer fails
    assert await harness.status(sent.id) == "failed"
    other_source, _ = await harness.accounts("0", "0")
    pending = await harness.send(
        TransferMoney(from_account_id=other_source, to_account_id=destination, amount="5")
    )
    (requested,) = await harness.events.read_stream(pending.id, 0, 10)
    # Started as if the request had been read, its debit not given yet.
    assert isinstance(requested.envelope.event, TransferRequested)
    await harness.processes.start(
        Tracked(start(requested.envelope.event), "c", None, str(requested.envelope.event_id)), due_in=60
    )
    forged = MoneyWithdrawn(
        account_id=other_source,
        customer_id=uuid4(),
        currency="EUR",
        amount=Decimal("5.00"),
        balance=Decimal("0.00"),
        reference="",
        transfer=TransferLeg(transfer_id=pending.id, counterpart=destination, step="debit"),
    )
    envelope = EventEnvelope(
        event_id=uuid4(),
        stream_type="account",
        stream_id=other_source,
        version=2,
        occurred_at=requested.envelope.occurred_at,
        event=forged,
    )
    item = PendingEvent(0, envelope, Metadata(message_id=envelope.event_id, type="MoneyWithdrawn"))
    await harness.runner.on_event(delivery(item))
    process = await harness.processes.get(pending.id)
    assert process is not None
    assert process.process.stage == "debit"
    assert await harness.status(pending.id) == "requested"


async def test_an_unreadable_event_is_dead_lettered_and_another_accounts_event_ignored(
    harness: Harness,
) -> None:
    (account,) = await harness.accounts("10.00")
    (deposited,) = await harness.events.read_stream(account, 1, 10)
    assert await harness.runner.on_event(delivery(deposited)) == Outcome()  # acked, nothing done
    bad = await harness.runner.on_event(delivery(deposited, body=b'{"event": {"type": "MoneyDeposited"}}'))
    assert bad.dead_letter is not None
    assert bad.dead_letter.code in (ErrorCode.MALFORMED_MESSAGE, ErrorCode.VALIDATION_ERROR)


async def test_the_sweeper_gives_a_step_never_given_and_counts_transfers_past_their_budget(
    pool: asyncpg.Pool,
) -> None:
    harness = Harness(pool, Timing(step_timeout=0.05, budget=0.2, sweep_interval=0.05))
    source, destination = await harness.accounts("50.00", "0")
    sent = await harness.send(TransferMoney(from_account_id=source, to_account_id=destination, amount="20"))
    (requested,) = await harness.events.read_stream(sent.id, 0, 10)
    assert isinstance(requested.envelope.event, TransferRequested)
    # As after a crash between recording the process and giving its debit.
    await harness.processes.start(
        Tracked(start(requested.envelope.event), "c", None, str(requested.envelope.event_id)), due_in=0
    )
    harness.after = requested.seq
    await harness.runner.sweep()
    debit = await pool.fetchval(
        "SELECT type FROM events WHERE causation_id = $1", str(step_id(sent.id, "debit"))
    )
    assert debit == "MoneyWithdrawn"
    await asyncio.sleep(0.3)
    await harness.runner.sweep()  # past its budget, not finished: stuck
    assert metrics.TRANSFERS_STUCK._value.get() >= 1
    await harness.pump()
    assert await harness.status(sent.id) == "completed"
    await harness.runner.sweep()
    assert sent.id not in await harness.processes.stuck(0.2)
