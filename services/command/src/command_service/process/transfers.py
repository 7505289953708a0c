"""The transfer process, pure: where a transfer stands (its stage), what moves it on (an event it saw,
or the refusal of the command of its stage), and the command each stage gives. No I/O, no clock.

    requested ─▶ debit ──withdrawn──▶ mark ──debited──▶ credit ──deposited──▶ complete ──▶ done
                   │ refused                              │ refused
                   ▼                                      ▼
                 fail ──failed──▶ done                  refund ──deposited──▶ fail_refunded ──▶ done

Each stage's command has a command id derived from the transfer and the stage (step_id): giving it
again is harmless, the command service answers a repeated id with the reply it recorded. An event
moves the process only if it was caused by the command of the stage it is in (its causation id is
that stage's id) and says so in its body: nothing else, a copied or forged event included, can.
"""

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Final, Literal
from uuid import UUID, uuid5

from cqrs_contracts import (
    Command,
    CompleteTransfer,
    Deposit,
    Event,
    FailTransfer,
    MarkTransferDebited,
    MoneyDeposited,
    MoneyWithdrawn,
    TransferCompleted,
    TransferDebited,
    TransferFailed,
    TransferLeg,
    TransferRequested,
    TransferStep,
    Withdraw,
)

Stage = Literal["debit", "fail", "mark", "credit", "complete", "refund", "fail_refunded", "done"]
STAGES: Final[tuple[Stage, ...]] = (
    "debit",
    "fail",
    "mark",
    "credit",
    "complete",
    "refund",
    "fail_refunded",
    "done",
)
# The process manager's commands' ids: uuid5(this, "<transfer id>/<stage>").
STEP_NAMESPACE = UUID("5f1d7a52-8c1e-4f0e-9a57-2a3b3c9e7d41")
MAX_REASON = 300  # FailTransfer.reason's bound


@dataclass(frozen=True)
class Process:
    """One transfer's process: what it moves, the stage it is in, and what its stages found."""

    transfer_id: UUID
    from_account_id: UUID
    to_account_id: UUID
    amount: Decimal
    reference: str
    stage: Stage
    reason: str | None = None
    """Why it fails: the refusal of its debit, or of its credit."""
    withdrawal: UUID | None = None
    """The id of the debit's event."""
    deposit: UUID | None = None
    """The id of the credit's event, or of the refund's."""


@dataclass(frozen=True)
class Seen:
    """An event consumed, with its id and the id of the command that caused it (its causation id)."""

    event: Event
    event_id: UUID
    causation_id: str | None


@dataclass(frozen=True)
class Refused:
    """The command of ``stage`` was rejected, for ``reason``."""

    stage: Stage
    reason: str


def start(event: TransferRequested) -> Process:
    return Process(
        transfer_id=event.transfer_id,
        from_account_id=event.from_account_id,
        to_account_id=event.to_account_id,
        amount=event.amount,
        reference=event.reference,
        stage="debit",
    )


def transfer_of(event: Event) -> UUID | None:
    """The transfer whose process ``event`` may move, if any (then advance decides whether it does)."""
    if isinstance(event, TransferRequested | TransferDebited | TransferCompleted | TransferFailed):
        return event.transfer_id
    if isinstance(event, MoneyDeposited | MoneyWithdrawn) and event.transfer is not None:
        return event.transfer.transfer_id
    return None


def step_id(transfer_id: UUID, stage: Stage) -> UUID:
    return uuid5(STEP_NAMESPACE, f"{transfer_id}/{stage}")


def advance(process: Process, happened: Seen | Refused) -> Process | None:
    """The process moved on by ``happened``; None when it is not the step the process waits for."""
    if isinstance(happened, Refused):
        if happened.stage != process.stage:
            return None
        reason = happened.reason[:MAX_REASON] or "refused"
        if process.stage == "debit":
            return replace(process, stage="fail", reason=reason)
        if process.stage == "credit":
            return replace(process, stage="refund", reason=reason)
        return None  # a refused transfer step or refund cannot be helped here: it stays, stuck
    if happened.causation_id != str(step_id(process.transfer_id, process.stage)):
        return None
    return _moved(process, happened)


def _moved(process: Process, seen: Seen) -> Process | None:
    event, stage = seen.event, process.stage
    if stage == "debit" and _leg(process, event, MoneyWithdrawn, process.from_account_id, "debit"):
        return replace(process, stage="mark", withdrawal=seen.event_id)
    if stage == "credit" and _leg(process, event, MoneyDeposited, process.to_account_id, "credit"):
        return replace(process, stage="complete", deposit=seen.event_id)
    if stage == "refund" and _leg(process, event, MoneyDeposited, process.from_account_id, "refund"):
        return replace(process, stage="fail_refunded", deposit=seen.event_id)
    if stage in _ON_TRANSFER:
        kind, then = _ON_TRANSFER[stage]
        if isinstance(event, kind) and event.transfer_id == process.transfer_id:
            return replace(process, stage=then)
    return None


# The stages whose command moves the transfer's own stream: the event that ends each, and the next.
_ON_TRANSFER: dict[Stage, tuple[type[TransferDebited | TransferCompleted | TransferFailed], Stage]] = {
    "mark": (TransferDebited, "credit"),
    "complete": (TransferCompleted, "done"),
    "fail": (TransferFailed, "done"),
    "fail_refunded": (TransferFailed, "done"),
}


def _leg(
    process: Process,
    event: Event,
    kind: type[MoneyDeposited] | type[MoneyWithdrawn],
    account_id: UUID,
    step: TransferStep,
) -> bool:
    """Whether ``event`` is the money movement of ``step``: on its account, of its amount, its leg."""
    if not isinstance(event, kind) or event.transfer is None:
        return False
    leg = event.transfer
    return (
        event.account_id == account_id
        and event.amount == process.amount
        and (leg.transfer_id, leg.step) == (process.transfer_id, step)
    )


def command(process: Process) -> Command | None:
    """The command the process's stage gives (under step_id); None once it is done."""
    transfer_id, stage = process.transfer_id, process.stage
    reason = process.reason or "refused"
    if stage == "debit" or stage == "credit" or stage == "refund":
        return _money_step(process, stage)
    if stage == "fail":
        return FailTransfer(transfer_id=transfer_id, reason=reason, refunded=False)
    if stage == "mark" and process.withdrawal is not None:
        return MarkTransferDebited(transfer_id=transfer_id, withdrawal=process.withdrawal)
    if stage == "complete" and process.deposit is not None:
        return CompleteTransfer(transfer_id=transfer_id, deposit=process.deposit)
    if stage == "fail_refunded":
        return FailTransfer(transfer_id=transfer_id, reason=reason, refunded=True, refund=process.deposit)
    return None


def _money_step(process: Process, step: TransferStep) -> Withdraw | Deposit:
    """The debit (a withdrawal from the source), the credit (a deposit to the destination) or the
    refund (a deposit back to the source), carrying its leg of the transfer."""
    source, destination = process.from_account_id, process.to_account_id
    account, counterpart = (destination, source) if step == "credit" else (source, destination)
    leg = TransferLeg(transfer_id=process.transfer_id, counterpart=counterpart, step=step)
    kind = Withdraw if step == "debit" else Deposit
    return kind(account_id=account, amount=process.amount, reference=process.reference, transfer=leg)


def backoff(attempts: int, timeout: float) -> float:
    """Seconds before the ``attempts``-th re-dispatch of a stage's command is due: the timeout,
    doubling with each attempt, at most eight times the timeout (bounded, so a stuck step whose cause
    is repaired moves on soon after)."""
    return float(timeout * min(2 ** max(attempts, 0), 8))
