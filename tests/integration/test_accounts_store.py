"""Accounts through the handler against a real PostgreSQL: prerequisites, ids of the wrong kind, races."""

import asyncio
from decimal import Decimal
from uuid import UUID, uuid4

import asyncpg
import pytest

from command_service import handler
from command_service.store import EventStore
from cqrs_shared.contracts import (
    CommandAccepted,
    CommandRejected,
    CommandReply,
    CreateCustomer,
    Deposit,
    ErrorCode,
    MakeCustomerPreferred,
    Metadata,
    OpenAccount,
    Withdraw,
)

pytestmark = pytest.mark.integration


async def send(store: EventStore, command: object) -> CommandReply:
    return await handler.handle(command, Metadata(type=type(command).__name__), store)  # type: ignore[arg-type]


async def accepted(store: EventStore, command: object) -> CommandAccepted:
    reply = await send(store, command)
    assert isinstance(reply, CommandAccepted), reply
    return reply


async def funded_account(store: EventStore, amount: str) -> UUID:
    customer = await accepted(store, CreateCustomer(name="Ada", locale="en"))
    account = await accepted(store, OpenAccount(customer_id=customer.id))
    await accepted(store, Deposit(account_id=account.id, amount=amount))
    return account.id


async def test_an_account_needs_an_existing_customer(event_store: EventStore) -> None:
    reply = await send(event_store, OpenAccount(customer_id=uuid4()))
    assert isinstance(reply, CommandRejected)
    assert reply.error.code == ErrorCode.NOT_FOUND
    assert "customer" in reply.error.message


async def test_ids_of_the_other_aggregate_kind_are_rejected_not_crashed_on(event_store: EventStore) -> None:
    customer = await accepted(event_store, CreateCustomer(name="Ada", locale="en"))
    account = await accepted(event_store, OpenAccount(customer_id=customer.id))
    on_customer = await send(event_store, Deposit(account_id=customer.id, amount="1"))
    on_account = await send(event_store, MakeCustomerPreferred(customer_id=account.id))
    reopen = await send(event_store, OpenAccount(account_id=customer.id, customer_id=customer.id))
    codes = [r.error.code for r in (on_customer, on_account, reopen) if isinstance(r, CommandRejected)]
    assert codes == [ErrorCode.NOT_FOUND, ErrorCode.NOT_FOUND, ErrorCode.ALREADY_EXISTS]


async def test_the_reply_carries_a_consistency_token(event_store: EventStore) -> None:
    account_id = await funded_account(event_store, "5")
    reply = await accepted(event_store, Deposit(account_id=account_id, amount="1"))
    assert reply.token == f"account:{account_id}@3"


async def test_concurrent_withdrawals_never_overdraw(event_store: EventStore, pool: asyncpg.Pool) -> None:
    account_id = await funded_account(event_store, "100.00")
    replies = await asyncio.gather(
        *(send(event_store, Withdraw(account_id=account_id, amount="10.00")) for _ in range(15))
    )
    rejected = [r for r in replies if isinstance(r, CommandRejected)]
    assert sum(isinstance(r, CommandAccepted) for r in replies) == 10
    assert {r.error.code for r in rejected} == {ErrorCode.INSUFFICIENT_FUNDS}
    state = await event_store.load(account_id)
    assert state is not None
    assert Decimal(state.state["balance"]) == Decimal("0.00")
    last = await pool.fetchval(
        "SELECT data->>'balance' FROM events WHERE stream_id = $1 ORDER BY version DESC LIMIT 1", account_id
    )
    assert last == "0.00"
