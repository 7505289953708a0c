"""Scenarios several end-to-end and fault tests run, each against its own set-up."""

import asyncio
from dataclasses import dataclass

from cqrs_client.client import CqrsClient
from cqrs_contracts import (
    Command,
    CommandAccepted,
    CommandRejected,
    CreateCustomer,
    Deposit,
    ErrorCode,
    OpenAccount,
    Withdraw,
)
from tests import builders


async def accepted(client: CqrsClient, command: Command) -> CommandAccepted:
    """Send ``command``; it must be accepted."""
    return builders.accepted(await client.send(command))


@dataclass(frozen=True)
class Race:
    owner: CommandAccepted
    account: CommandAccepted


async def fifty_withdrawals_from_300(client: CqrsClient) -> Race:
    """Deposit 300.00, then 50 concurrent withdrawals of 10.00: exactly 30 may win."""
    owner = await accepted(client, CreateCustomer(name="Racer", locale="en"))
    account = await accepted(client, OpenAccount(customer_id=owner.id))
    await accepted(client, Deposit(account_id=account.id, amount="300.00"))
    replies = await asyncio.gather(
        *(client.send(Withdraw(account_id=account.id, amount="10.00")) for _ in range(50))
    )
    won = [r for r in replies if isinstance(r, CommandAccepted)]
    lost = [r for r in replies if isinstance(r, CommandRejected)]
    assert (len(won), len(lost)) == (30, 20)
    assert {r.error.code for r in lost} == {ErrorCode.INSUFFICIENT_FUNDS}
    assert sorted(r.version for r in won) == list(range(3, 33))
    return Race(owner, account)
