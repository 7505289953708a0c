"""Money transfers through the running pair: the process manager withdraws, deposits, and deposits
back when the credit fails; the balances are read from the command side's event store."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from command_service.domain.account import MAX_BALANCE
from cqrs_client.client import CqrsClient
from cqrs_contracts import (
    CommandAccepted,
    CreateCustomer,
    Deposit,
    ErrorCode,
    FailTransfer,
    MarkTransferDebited,
    OpenAccount,
    TransferLeg,
    TransferMoney,
    Withdraw,
)
from cqrs_contracts.money import MAX_AMOUNT
from tests import builders
from tests.e2e.scenarios import accepted
from tests.pair import Pair

SETTLE_SECONDS = 30


@pytest.fixture
async def db(pair: Pair) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(pair.postgres_dsn)
    try:
        yield conn
    finally:
        await conn.close()


async def state(db: asyncpg.Connection, stream_id: UUID) -> dict[str, Any]:
    raw = await db.fetchval("SELECT state FROM streams WHERE stream_id = $1", stream_id)
    assert raw is not None, f"no stream {stream_id}"
    loaded: dict[str, Any] = json.loads(raw) if isinstance(raw, str) else raw
    return loaded


async def balances(db: asyncpg.Connection, *accounts: UUID) -> list[str]:
    return [(await state(db, account))["balance"] for account in accounts]


async def settled(db: asyncpg.Connection, transfer_id: UUID) -> dict[str, Any]:
    """The transfer's state once it has ended (completed or failed), as the command side holds it."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        transfer = await state(db, transfer_id)
        if transfer["status"] in ("completed", "failed"):
            return transfer
        await asyncio.sleep(0.1)
    raise AssertionError(f"transfer {transfer_id} did not end: {await state(db, transfer_id)}")


async def accounts(client: CqrsClient, *deposits: str, currency: str = "EUR") -> list[UUID]:
    """A customer's accounts, one per deposit ("0": none made)."""
    owner = await accepted(client, CreateCustomer(name="Payer", locale="en"))
    made = []
    for amount in deposits:
        account = await accepted(client, OpenAccount(customer_id=owner.id, currency=currency))
        if Decimal(amount) > 0:
            await accepted(client, Deposit(account_id=account.id, amount=amount))
        made.append(account.id)
    return made


async def test_a_transfer_moves_the_money_and_completes(client: CqrsClient, db: asyncpg.Connection) -> None:
    source, destination = await accounts(client, "100.00", "5.00")
    sent = await accepted(
        client,
        TransferMoney(from_account_id=source, to_account_id=destination, amount="30", reference="rent"),
    )
    transfer = await settled(db, sent.id)
    assert (transfer["status"], transfer["refunded"]) == ("completed", False)
    assert await balances(db, source, destination) == ["70.00", "35.00"]
    steps = await db.fetch(
        "SELECT stream_id, type, data->'transfer' AS leg FROM events"
        " WHERE data->'transfer'->>'transfer_id' = $1 ORDER BY seq",
        str(sent.id),
    )
    legs = [(row["stream_id"], row["type"], json.loads(row["leg"])["step"]) for row in steps]
    assert legs == [(source, "MoneyWithdrawn", "debit"), (destination, "MoneyDeposited", "credit")]
    kinds = await db.fetch("SELECT type FROM events WHERE stream_id = $1 ORDER BY version", sent.id)
    assert [row["type"] for row in kinds] == ["TransferRequested", "TransferDebited", "TransferCompleted"]


async def test_a_transfer_beyond_the_balance_fails_not_refunded_and_moves_nothing(
    client: CqrsClient, db: asyncpg.Connection
) -> None:
    source, destination = await accounts(client, "10.00", "0")
    sent = await accepted(
        client, TransferMoney(from_account_id=source, to_account_id=destination, amount="30.00")
    )
    transfer = await settled(db, sent.id)
    assert (transfer["status"], transfer["refunded"]) == ("failed", False)
    assert await balances(db, source, destination) == ["10.00", "0.00"]


async def test_a_credit_refused_after_the_debit_is_refunded_and_the_balances_restored(
    client: CqrsClient, db: asyncpg.Connection
) -> None:
    source, destination = await accounts(client, "5.00", "0")
    # The destination filled to the balance ceiling: the credit's deposit is refused by the domain.
    fill = [
        Deposit(account_id=destination, amount=str(MAX_AMOUNT)) for _ in range(int(MAX_BALANCE / MAX_AMOUNT))
    ]
    for reply in await asyncio.gather(*(client.send(command) for command in fill)):
        builders.accepted(reply)
    sent = await accepted(
        client, TransferMoney(from_account_id=source, to_account_id=destination, amount="1.00")
    )
    transfer = await settled(db, sent.id)
    assert (transfer["status"], transfer["refunded"]) == ("failed", True)
    assert await balances(db, source, destination) == ["5.00", f"{MAX_BALANCE}.00"]
    failed = await db.fetchval(
        "SELECT data FROM events WHERE stream_id = $1 AND type = 'TransferFailed'", sent.id
    )
    reason = (json.loads(failed) if isinstance(failed, str) else failed)["reason"]
    assert reason.startswith("validation_error: ")
    source_moves = await db.fetch(
        "SELECT type, data->'transfer'->>'step' AS step FROM events WHERE stream_id = $1 ORDER BY version",
        source,
    )
    assert [(row["type"], row["step"]) for row in source_moves][-2:] == [
        ("MoneyWithdrawn", "debit"),
        ("MoneyDeposited", "refund"),
    ]


@pytest.mark.parametrize(
    "command",
    [
        FailTransfer(transfer_id=uuid4(), reason="because"),
        MarkTransferDebited(transfer_id=uuid4(), withdrawal=uuid4()),
        Deposit(
            account_id=uuid4(),
            amount="1",
            transfer=TransferLeg(transfer_id=uuid4(), counterpart=uuid4(), step="refund"),
        ),
        Withdraw(
            account_id=uuid4(),
            amount="1",
            transfer=TransferLeg(transfer_id=uuid4(), counterpart=uuid4(), step="debit"),
        ),
    ],
)
async def test_a_client_may_not_give_the_process_managers_commands(
    client: CqrsClient, command: FailTransfer | MarkTransferDebited | Deposit | Withdraw
) -> None:
    builders.rejected(await client.send(command), ErrorCode.FORBIDDEN)


async def test_a_transfer_between_two_currencies_is_a_validation_error(client: CqrsClient) -> None:
    (euros,) = await accounts(client, "10.00")
    (dollars,) = await accounts(client, "0", currency="USD")
    reply = await client.send(TransferMoney(from_account_id=euros, to_account_id=dollars, amount="1"))
    refused = builders.rejected(reply, ErrorCode.VALIDATION_ERROR)
    assert set(refused.error.fields) == {"to_account_id"}


async def test_a_transfer_from_or_to_no_account_is_not_found(client: CqrsClient) -> None:
    (account,) = await accounts(client, "10.00")
    for source, destination in ((account, uuid4()), (uuid4(), account)):
        reply = await client.send(
            TransferMoney(from_account_id=source, to_account_id=destination, amount="1")
        )
        builders.rejected(reply, ErrorCode.NOT_FOUND)


async def test_concurrent_transfers_out_of_one_account_never_overdraw_it(
    client: CqrsClient, db: asyncpg.Connection
) -> None:
    source, first, second = await accounts(client, "100.00", "0", "0")
    replies = await asyncio.gather(
        *(
            client.send(TransferMoney(from_account_id=source, to_account_id=to, amount="10.00"))
            for to in [first, second] * 10
        )
    )
    sent = [builders.accepted(reply) for reply in replies]
    assert all(isinstance(reply, CommandAccepted) for reply in sent)
    ended = [await settled(db, reply.id) for reply in sent]
    assert sorted(t["status"] for t in ended) == ["completed"] * 10 + ["failed"] * 10
    assert not any(t["refunded"] for t in ended)
    source_balance, *others = await balances(db, source, first, second)
    assert source_balance == "0.00"
    assert sum(Decimal(b) for b in others) == Decimal("100.00")
