"""Money transfers through any client of the pair (CqrsClient, FakeClient): send one, look one up,
list them, and wait until one ends.

accepted = await client.transfer(source, destination, Decimal("12.50"), reference="rent")
done = await client.settled_transfer(accepted.id, token=accepted.token, within=30)
stuck = await client.list_transfers(stuck=True, older_than=60)
"""

import asyncio
import time
from decimal import Decimal
from typing import Protocol, TypeVar
from uuid import UUID

from cqrs_client.errors import CommandRejectedError, RequestTimeout
from cqrs_contracts import (
    Command,
    CommandAccepted,
    CommandRejected,
    CommandReply,
    GetTransfer,
    ListTransfers,
    TransferMoney,
    TransferPage,
    TransferView,
)
from cqrs_contracts.base import Answered, Contract

R = TypeVar("R", bound=Contract)
ENDED = frozenset({"completed", "failed"})
# How often settled_transfer asks again: a transfer takes a few command round trips.
POLL_SECONDS = 0.1


class _Client(Protocol):
    async def send(
        self,
        command: Command,
        *,
        command_id: UUID | None = None,
        traceparent: str | None = None,
        timeout: float | None = None,
        attempts: int = 1,
    ) -> CommandReply: ...

    async def ask(
        self, query: Answered[R], *, traceparent: str | None = None, timeout: float | None = None
    ) -> R: ...


class TransferCalls:
    """What both clients add for transfers, on top of ``send`` and ``ask``."""

    async def transfer(
        self: _Client,
        from_account_id: UUID,
        to_account_id: UUID,
        amount: Decimal | str,
        *,
        transfer_id: UUID | None = None,
        reference: str = "",
        command_id: UUID | None = None,
        attempts: int = 1,
    ) -> CommandAccepted:
        """Ask for a transfer; accepted means requested (its stream is the transfer: ``id``), a
        rejection raises CommandRejectedError. Without ``transfer_id`` the command id gives one."""
        command = TransferMoney(
            transfer_id=transfer_id,
            from_account_id=from_account_id,
            to_account_id=to_account_id,
            amount=amount,
            reference=reference,
        )
        reply = await self.send(command, command_id=command_id, attempts=attempts)
        if isinstance(reply, CommandRejected):
            raise CommandRejectedError(reply.error, reply.command_id)
        return reply

    async def get_transfer(
        self: _Client, transfer_id: UUID, *, min_version: int | None = None, token: str = ""
    ) -> TransferView:
        """The transfer's view, once it has ``min_version`` and ``token`` (a bounded wait)."""
        return await self.ask(GetTransfer(transfer_id=transfer_id, min_version=min_version, token=token))

    async def list_transfers(
        self: _Client,
        *,
        stuck: bool = False,
        older_than: float = 60.0,
        limit: int = 50,
        after: str | None = None,
    ) -> TransferPage:
        """Transfers newest first; ``stuck``: only those still open ``older_than`` seconds after
        they were requested. ``after``: the ``next`` of the page before."""
        return await self.ask(ListTransfers(stuck=stuck, older_than=older_than, limit=limit, after=after))

    async def settled_transfer(
        self: _Client, transfer_id: UUID, *, token: str = "", within: float = 30.0
    ) -> TransferView:
        """The transfer once it has ended (completed or failed), asked again until ``within``
        seconds have passed; then RequestTimeout, saying where it stands."""
        deadline = time.monotonic() + within
        while True:
            view = await TransferCalls.get_transfer(self, transfer_id, token=token)
            if view.status in ENDED:
                return view
            if time.monotonic() >= deadline:
                raise RequestTimeout(f"transfer {transfer_id} is still {view.status} after {within:g} s")
            await asyncio.sleep(POLL_SECONDS)
