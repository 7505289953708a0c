"""The transfer decider, as given events / when command / then events or rejection."""

from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from command_service.domain.account import MAX_BALANCE, Account
from command_service.domain.account import decide as decide_account
from command_service.domain.errors import (
    AlreadyExists,
    DomainError,
    InvalidTransition,
    InvalidValue,
    NotFound,
)
from command_service.domain.transfer import Accounts, Transfer, decide, evolve
from cqrs_contracts import (
    CompleteTransfer,
    Deposit,
    FailTransfer,
    MarkTransferDebited,
    MoneyDeposited,
    MoneyWithdrawn,
    TransferCommand,
    TransferCompleted,
    TransferDebited,
    TransferEvent,
    TransferFailed,
    TransferLeg,
    TransferMoney,
    TransferRequested,
    Withdraw,
)

ID, SOURCE, DESTINATION = uuid4(), uuid4(), uuid4()
ALICE, BOB = uuid4(), uuid4()
WITHDRAWAL, DEPOSIT, REFUND = uuid4(), uuid4(), uuid4()


def account(id_: UUID, owner: UUID, currency: str = "EUR", balance: str = "100.00") -> Account:
    return Account(id=id_, customer_id=owner, currency=currency, balance=Decimal(balance))


BOTH = Accounts(account(SOURCE, ALICE), account(DESTINATION, BOB))
SEND = TransferMoney(
    transfer_id=ID, from_account_id=SOURCE, to_account_id=DESTINATION, amount="12.5", reference="rent"
)
REQUESTED = TransferRequested(
    transfer_id=ID,
    from_account_id=SOURCE,
    to_account_id=DESTINATION,
    from_customer_id=ALICE,
    to_customer_id=BOB,
    currency="EUR",
    amount=Decimal("12.50"),
    reference="rent",
)
DEBITED = TransferDebited(transfer_id=ID, withdrawal=WITHDRAWAL)
COMPLETED = TransferCompleted(transfer_id=ID, deposit=DEPOSIT)
FAILED = TransferFailed(transfer_id=ID, reason="no money", refunded=False)
REFUNDED = TransferFailed(transfer_id=ID, reason="too much", refunded=True, refund=REFUND)
MARK = MarkTransferDebited(transfer_id=ID, withdrawal=WITHDRAWAL)
COMPLETE = CompleteTransfer(transfer_id=ID, deposit=DEPOSIT)
FAIL = FailTransfer(transfer_id=ID, reason="no money")
FAIL_REFUNDED = FailTransfer(transfer_id=ID, reason="too much", refunded=True, refund=REFUND)


def history(*events: TransferEvent) -> Transfer | None:
    state: Transfer | None = None
    for event in events:
        state = evolve(state, event)
    return state


def when(
    given: tuple[TransferEvent, ...], command: TransferCommand, accounts: Accounts = BOTH
) -> list[TransferEvent]:
    return decide(history(*given), command, ID, accounts)


def test_a_transfer_between_two_accounts_of_one_currency_is_requested_with_both_owners() -> None:
    assert when((), SEND) == [REQUESTED]


def test_a_transfer_amount_takes_the_currencys_minor_units() -> None:
    (event,) = when((), SEND)
    assert isinstance(event, TransferRequested)
    assert str(event.amount) == "12.50"


@pytest.mark.parametrize(
    "accounts",
    [Accounts(None, account(DESTINATION, BOB)), Accounts(account(SOURCE, ALICE), None), Accounts(None, None)],
)
def test_a_transfer_needs_both_accounts_to_exist(accounts: Accounts) -> None:
    with pytest.raises(NotFound):
        when((), SEND, accounts)


def test_a_transfer_between_two_currencies_is_a_validation_error_naming_the_field() -> None:
    with pytest.raises(InvalidValue) as raised:
        when((), SEND, Accounts(account(SOURCE, ALICE), account(DESTINATION, BOB, "USD")))
    assert set(raised.value.fields) == {"to_account_id"}


def test_a_transfer_amount_finer_than_the_currency_is_a_validation_error() -> None:
    yen = Accounts(account(SOURCE, ALICE, "JPY", "100"), account(DESTINATION, BOB, "JPY", "0"))
    with pytest.raises(InvalidValue) as raised:
        when((), SEND, yen)
    assert set(raised.value.fields) == {"amount"}


def test_a_transfer_id_taken_is_refused() -> None:
    with pytest.raises(AlreadyExists):
        when((REQUESTED,), SEND)


@pytest.mark.parametrize("command", [MARK, COMPLETE, FAIL, FAIL_REFUNDED])
def test_moving_a_transfer_that_does_not_exist_is_not_found(command: TransferCommand) -> None:
    with pytest.raises(NotFound):
        when((), command)


@pytest.mark.parametrize(
    ("given", "command", "then"),
    [
        ((REQUESTED,), MARK, [DEBITED]),
        ((REQUESTED,), FAIL, [FAILED]),
        ((REQUESTED, DEBITED), COMPLETE, [COMPLETED]),
        ((REQUESTED, DEBITED), FAIL_REFUNDED, [REFUNDED]),
    ],
)
def test_a_transfer_moves_requested_then_debited_then_completed_or_failed(
    given: tuple[TransferEvent, ...], command: TransferCommand, then: list[TransferEvent]
) -> None:
    assert when(given, command) == then


@pytest.mark.parametrize(
    ("given", "command"),
    [
        ((REQUESTED, DEBITED), MARK),
        ((REQUESTED, DEBITED, COMPLETED), COMPLETE),
        ((REQUESTED, FAILED), FAIL),
        ((REQUESTED, DEBITED, REFUNDED), FAIL_REFUNDED),
    ],
)
def test_a_move_repeated_where_the_transfer_stands_causes_nothing(
    given: tuple[TransferEvent, ...], command: TransferCommand
) -> None:
    assert when(given, command) == []


@pytest.mark.parametrize(
    ("given", "command"),
    [
        ((REQUESTED,), COMPLETE),  # not debited yet
        ((REQUESTED,), FAIL_REFUNDED),  # nothing left the source to refund
        ((REQUESTED, DEBITED), FAIL),  # money left the source: only a refunded failure may end it
        ((REQUESTED, DEBITED), MarkTransferDebited(transfer_id=ID, withdrawal=uuid4())),
        ((REQUESTED, DEBITED, COMPLETED), FAIL_REFUNDED),
        ((REQUESTED, DEBITED, COMPLETED), CompleteTransfer(transfer_id=ID, deposit=uuid4())),
        ((REQUESTED, FAILED), MARK),
        ((REQUESTED, FAILED), FAIL_REFUNDED),
        ((REQUESTED, DEBITED, REFUNDED), COMPLETE),
    ],
)
def test_a_move_out_of_order_or_out_of_an_end_is_refused(
    given: tuple[TransferEvent, ...], command: TransferCommand
) -> None:
    with pytest.raises(InvalidTransition) as raised:
        when(given, command)
    assert isinstance(raised.value, DomainError)


def test_the_state_follows_the_events() -> None:
    state = history(REQUESTED, DEBITED, REFUNDED)
    assert state is not None
    assert (state.status, state.withdrawal, state.deposit, state.refunded) == (
        "failed",
        WITHDRAWAL,
        REFUND,
        True,
    )


def test_a_step_of_a_transfer_carries_its_leg_onto_the_accounts_event() -> None:
    leg = TransferLeg(transfer_id=ID, counterpart=DESTINATION, step="debit")
    (withdrawn,) = decide_account(
        account(SOURCE, ALICE), Withdraw(account_id=SOURCE, amount="1", transfer=leg), SOURCE
    )
    (deposited,) = decide_account(account(SOURCE, ALICE), Deposit(account_id=SOURCE, amount="1"), SOURCE)
    assert isinstance(withdrawn, MoneyWithdrawn)
    assert isinstance(deposited, MoneyDeposited)
    assert (withdrawn.transfer, deposited.transfer) == (leg, None)


def test_a_deposit_beyond_the_balance_ceiling_is_refused() -> None:
    full = account(DESTINATION, BOB, balance=str(MAX_BALANCE))
    with pytest.raises(InvalidValue):
        decide_account(full, Deposit(account_id=DESTINATION, amount="0.01"), DESTINATION)


def test_a_transfers_refund_is_taken_even_past_the_ceiling_it_was_under_before_the_debit() -> None:
    # The source filled up between the debit and the refund: refusing the refund would leave the
    # money nowhere (found by tests/faults/test_transfer_money.py's author; a credit is still refused).
    full = account(SOURCE, ALICE, balance=str(MAX_BALANCE))
    refund = TransferLeg(transfer_id=uuid4(), counterpart=DESTINATION, step="refund")
    (refunded,) = decide_account(full, Deposit(account_id=SOURCE, amount="5", transfer=refund), SOURCE)
    assert isinstance(refunded, MoneyDeposited)
    assert refunded.balance == MAX_BALANCE + 5
    credit = TransferLeg(transfer_id=uuid4(), counterpart=SOURCE, step="credit")
    with pytest.raises(InvalidValue):
        decide_account(full, Deposit(account_id=SOURCE, amount="5", transfer=credit), SOURCE)
