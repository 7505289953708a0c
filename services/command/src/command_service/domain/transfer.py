"""The transfer decider: a transfer between two accounts of one currency, requested, then debited,
then completed or failed. The money itself moves on the accounts (the process manager's deposits and
withdrawals); this stream records where the transfer stands, so that it ends exactly once."""

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal, assert_never
from uuid import UUID

from command_service.domain.account import Account
from command_service.domain.errors import AlreadyExists, InvalidTransition, InvalidValue, NotFound
from cqrs_contracts import (
    CompleteTransfer,
    FailTransfer,
    MarkTransferDebited,
    TransferCommand,
    TransferCompleted,
    TransferDebited,
    TransferEvent,
    TransferFailed,
    TransferMoney,
    TransferRequested,
)
from cqrs_contracts.money import in_currency

Status = Literal["requested", "debited", "completed", "failed"]
ENDED: frozenset[Status] = frozenset({"completed", "failed"})


@dataclass(frozen=True)
class Transfer:
    id: UUID
    from_account_id: UUID
    to_account_id: UUID
    currency: str
    amount: Decimal
    status: Status
    withdrawal: UUID | None = None
    deposit: UUID | None = None
    refunded: bool = False


@dataclass(frozen=True)
class Accounts:
    """What TransferMoney is decided on besides the transfer: its two accounts as loaded (None: no
    such account). The route names them (routes.Peers); the handler loads them with the transfer."""

    source: Account | None
    destination: Account | None


NO_ACCOUNTS = Accounts(None, None)


def decide(
    state: Transfer | None, command: TransferCommand, stream_id: UUID, accounts: Accounts = NO_ACCOUNTS
) -> list[TransferEvent]:
    """The events ``command`` causes, or a DomainError saying why it is rejected. A repeated move
    to where the transfer stands already causes nothing (accepted); a move out of an end is refused."""
    if isinstance(command, TransferMoney):
        if state is not None:
            raise AlreadyExists(f"transfer {stream_id} already exists")
        return [_requested(command, stream_id, accounts)]
    if state is None:
        raise NotFound(f"transfer {stream_id} does not exist")
    if isinstance(command, MarkTransferDebited):
        if state.status == "debited" and state.withdrawal == command.withdrawal:
            return []
        _require(state, "requested", command.type)
        return [TransferDebited(transfer_id=state.id, withdrawal=command.withdrawal)]
    if isinstance(command, CompleteTransfer):
        if state.status == "completed" and state.deposit == command.deposit:
            return []
        _require(state, "debited", command.type)
        return [TransferCompleted(transfer_id=state.id, deposit=command.deposit)]
    if isinstance(command, FailTransfer):
        return _fail(state, command)
    assert_never(command)


def evolve(state: Transfer | None, event: TransferEvent) -> Transfer:
    if isinstance(event, TransferRequested):
        return Transfer(
            id=event.transfer_id,
            from_account_id=event.from_account_id,
            to_account_id=event.to_account_id,
            currency=event.currency,
            amount=event.amount,
            status="requested",
        )
    if state is None:
        raise ValueError(f"{event.type} before TransferRequested")
    if isinstance(event, TransferDebited):
        return replace(state, status="debited", withdrawal=event.withdrawal)
    if isinstance(event, TransferCompleted):
        return replace(state, status="completed", deposit=event.deposit)
    if isinstance(event, TransferFailed):
        return replace(state, status="failed", refunded=event.refunded, deposit=event.refund)
    assert_never(event)


def _requested(command: TransferMoney, stream_id: UUID, accounts: Accounts) -> TransferRequested:
    source, destination = accounts.source, accounts.destination
    if source is None:
        raise NotFound(f"account {command.from_account_id} does not exist")
    if destination is None:
        raise NotFound(f"account {command.to_account_id} does not exist")
    if source.currency != destination.currency:
        raise InvalidValue(
            f"a transfer moves one currency: account {source.id} holds {source.currency}, "
            f"account {destination.id} holds {destination.currency}",
            {"to_account_id": f"holds {destination.currency}, not {source.currency}"},
        )
    try:
        amount = in_currency(command.amount, source.currency)
    except ValueError as error:
        raise InvalidValue(f"invalid amount for {source.currency}", {"amount": str(error)}) from None
    return TransferRequested(
        transfer_id=stream_id,
        from_account_id=source.id,
        to_account_id=destination.id,
        from_customer_id=source.customer_id,
        to_customer_id=destination.customer_id,
        currency=source.currency,
        amount=amount,
        reference=command.reference,
    )


def _fail(state: Transfer, command: FailTransfer) -> list[TransferEvent]:
    if state.status == "failed" and state.refunded == command.refunded:
        return []
    # Money that left the source must be back before the transfer may end failed: a debited
    # transfer fails refunded only, a requested one (nothing left the source) never refunded.
    _require(state, "debited" if command.refunded else "requested", command.type)
    return [
        TransferFailed(
            transfer_id=state.id, reason=command.reason, refunded=command.refunded, refund=command.refund
        )
    ]


def _require(state: Transfer, status: Status, what: str) -> None:
    if state.status != status:
        ended = " (it has ended)" if state.status in ENDED else ""
        raise InvalidTransition(
            f"{what} applies to a {status} transfer; transfer {state.id} is {state.status}{ended}"
        )
