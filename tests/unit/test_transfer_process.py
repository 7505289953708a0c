"""The transfer process's pure core: every stage, what moves it, the command it gives; and that an
event not caused by the stage's own command (a forged or copied one) moves nothing."""

from dataclasses import replace
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from command_service.process.transfers import (
    Process,
    Refused,
    Seen,
    Stage,
    advance,
    backoff,
    command,
    start,
    step_id,
    transfer_of,
)
from cqrs_contracts import (
    CompleteTransfer,
    CustomerCreated,
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

ID, SOURCE, DESTINATION = uuid4(), uuid4(), uuid4()
AMOUNT = Decimal("12.50")
REQUESTED = TransferRequested(
    transfer_id=ID,
    from_account_id=SOURCE,
    to_account_id=DESTINATION,
    from_customer_id=uuid4(),
    to_customer_id=uuid4(),
    currency="EUR",
    amount=AMOUNT,
    reference="rent",
)
STARTED = start(REQUESTED)
WITHDRAWAL, DEPOSIT = uuid4(), uuid4()


def at(stage: Stage, **found: object) -> Process:
    return replace(STARTED, stage=stage, **found)  # type: ignore[arg-type]


def money(
    kind: type[MoneyDeposited] | type[MoneyWithdrawn],
    account: UUID,
    step: TransferStep | None,
    amount: Decimal = AMOUNT,
    transfer_id: UUID = ID,
) -> MoneyDeposited | MoneyWithdrawn:
    other = DESTINATION if account == SOURCE else SOURCE
    leg = None if step is None else TransferLeg(transfer_id=transfer_id, counterpart=other, step=step)
    return kind(
        account_id=account,
        customer_id=uuid4(),
        currency="EUR",
        amount=amount,
        balance=Decimal("100.00"),
        reference="rent",
        transfer=leg,
    )


def caused_by(event: Event, stage: Stage, event_id: UUID | None = None) -> Seen:
    """``event`` as the command of ``stage`` caused it."""
    return Seen(event, event_id or uuid4(), str(step_id(ID, stage)))


def test_a_requested_transfer_starts_by_withdrawing_from_the_source_as_its_debit() -> None:
    assert STARTED.stage == "debit"
    assert command(STARTED) == Withdraw(
        account_id=SOURCE,
        amount=AMOUNT,
        reference="rent",
        transfer=TransferLeg(transfer_id=ID, counterpart=DESTINATION, step="debit"),
    )


def test_the_debits_withdrawal_marks_the_transfer_debited() -> None:
    moved = advance(STARTED, caused_by(money(MoneyWithdrawn, SOURCE, "debit"), "debit", WITHDRAWAL))
    assert moved == at("mark", withdrawal=WITHDRAWAL)
    assert command(moved) == MarkTransferDebited(transfer_id=ID, withdrawal=WITHDRAWAL)


def test_a_refused_debit_fails_the_transfer_not_refunded() -> None:
    moved = advance(STARTED, Refused("debit", "insufficient_funds: the balance is 3.00"))
    assert moved == at("fail", reason="insufficient_funds: the balance is 3.00")
    assert command(moved) == FailTransfer(
        transfer_id=ID, reason="insufficient_funds: the balance is 3.00", refunded=False
    )


def test_the_transfer_debited_deposits_to_the_destination_as_its_credit() -> None:
    moved = advance(
        at("mark", withdrawal=WITHDRAWAL),
        caused_by(TransferDebited(transfer_id=ID, withdrawal=WITHDRAWAL), "mark"),
    )
    assert moved == at("credit", withdrawal=WITHDRAWAL)
    assert command(moved) == Deposit(
        account_id=DESTINATION,
        amount=AMOUNT,
        reference="rent",
        transfer=TransferLeg(transfer_id=ID, counterpart=SOURCE, step="credit"),
    )


def test_the_credits_deposit_completes_the_transfer() -> None:
    moved = advance(at("credit"), caused_by(money(MoneyDeposited, DESTINATION, "credit"), "credit", DEPOSIT))
    assert moved == at("complete", deposit=DEPOSIT)
    assert command(moved) == CompleteTransfer(transfer_id=ID, deposit=DEPOSIT)


def test_a_refused_credit_deposits_back_to_the_source_as_its_refund() -> None:
    moved = advance(at("credit"), Refused("credit", "validation_error: the account is full"))
    assert moved == at("refund", reason="validation_error: the account is full")
    assert command(moved) == Deposit(
        account_id=SOURCE,
        amount=AMOUNT,
        reference="rent",
        transfer=TransferLeg(transfer_id=ID, counterpart=DESTINATION, step="refund"),
    )


def test_the_refunds_deposit_fails_the_transfer_refunded_with_the_credits_reason() -> None:
    refunding = at("refund", reason="validation_error: the account is full")
    moved = advance(refunding, caused_by(money(MoneyDeposited, SOURCE, "refund"), "refund", DEPOSIT))
    assert moved == replace(refunding, stage="fail_refunded", deposit=DEPOSIT)
    assert command(moved) == FailTransfer(
        transfer_id=ID, reason="validation_error: the account is full", refunded=True, refund=DEPOSIT
    )


@pytest.mark.parametrize(
    ("stage", "event"),
    [
        ("complete", TransferCompleted(transfer_id=ID, deposit=DEPOSIT)),
        ("fail", TransferFailed(transfer_id=ID, reason="r", refunded=False)),
        ("fail_refunded", TransferFailed(transfer_id=ID, reason="r", refunded=True, refund=DEPOSIT)),
    ],
)
def test_the_transfers_end_ends_the_process(stage: Stage, event: Event) -> None:
    moved = advance(at(stage, deposit=DEPOSIT), caused_by(event, stage))
    assert moved is not None
    assert moved.stage == "done"
    assert command(moved) is None


@pytest.mark.parametrize(
    "seen",
    [
        # No causation id, or another command's: a forged event, or a client's withdrawal.
        Seen(money(MoneyWithdrawn, SOURCE, "debit"), uuid4(), None),
        Seen(money(MoneyWithdrawn, SOURCE, "debit"), uuid4(), str(uuid4())),
        # Caused by the debit's id, but not the debit: no leg, another step, account, amount, transfer.
        caused_by(money(MoneyWithdrawn, SOURCE, None), "debit"),
        caused_by(money(MoneyWithdrawn, SOURCE, "credit"), "debit"),
        caused_by(money(MoneyWithdrawn, DESTINATION, "debit"), "debit"),
        caused_by(money(MoneyWithdrawn, SOURCE, "debit", Decimal("1.00")), "debit"),
        caused_by(money(MoneyWithdrawn, SOURCE, "debit", transfer_id=uuid4()), "debit"),
        caused_by(money(MoneyDeposited, SOURCE, "debit"), "debit"),
        # The right event, caused by another stage's command.
        caused_by(money(MoneyWithdrawn, SOURCE, "debit"), "credit"),
        # Events of later stages, early.
        caused_by(TransferDebited(transfer_id=ID, withdrawal=WITHDRAWAL), "mark"),
        caused_by(TransferCompleted(transfer_id=ID, deposit=DEPOSIT), "complete"),
    ],
)
def test_an_event_not_caused_by_the_stages_own_command_moves_nothing(seen: Seen) -> None:
    assert advance(STARTED, seen) is None


def test_a_redelivered_event_of_a_stage_passed_moves_nothing() -> None:
    withdrawn = caused_by(money(MoneyWithdrawn, SOURCE, "debit"), "debit")
    assert advance(at("mark", withdrawal=WITHDRAWAL), withdrawn) is None
    assert advance(at("done"), withdrawn) is None


@pytest.mark.parametrize("stage", ["mark", "complete", "fail", "refund", "fail_refunded", "done"])
def test_a_refusal_moves_only_a_debit_or_a_credit_and_only_in_its_stage(stage: Stage) -> None:
    assert advance(at(stage), Refused(stage, "no")) is None
    assert advance(at(stage), Refused("debit", "no")) is None


def test_a_long_refusal_is_cut_to_what_fail_transfer_takes() -> None:
    moved = advance(STARTED, Refused("debit", "x" * 1000))
    assert moved is not None
    FailTransfer.model_validate(command(moved).model_dump())  # type: ignore[union-attr]


def test_each_stage_has_its_own_deterministic_command_id() -> None:
    stages: list[Stage] = ["debit", "fail", "mark", "credit", "complete", "refund", "fail_refunded"]
    assert len({step_id(ID, stage) for stage in stages}) == len(stages)
    assert step_id(ID, "debit") == step_id(ID, "debit") != step_id(uuid4(), "debit")


def test_only_transfer_events_and_transfer_steps_name_a_transfer() -> None:
    assert transfer_of(REQUESTED) == ID
    assert transfer_of(money(MoneyDeposited, DESTINATION, "credit")) == ID
    assert transfer_of(money(MoneyDeposited, DESTINATION, None)) is None
    assert transfer_of(CustomerCreated(customer_id=uuid4(), name="A", locale="en")) is None


def test_the_backoff_doubles_and_is_bounded() -> None:
    assert [backoff(n, 5) for n in (0, 1, 2, 3, 4, 10)] == [5, 10, 20, 40, 40, 40]
