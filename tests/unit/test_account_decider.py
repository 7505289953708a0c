"""The account decider, as given events / when command / then events or rejection."""

from decimal import Decimal
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from command_service.domain.account import (
    MAX_ACCOUNTS_PER_CUSTOMER,
    Account,
    check_room,
    decide,
    evolve,
)
from command_service.domain.errors import (
    AlreadyExists,
    InsufficientFunds,
    InvalidValue,
    NotFound,
    TooManyAccounts,
)
from cqrs_contracts import (
    AccountEvent,
    AccountOpened,
    Deposit,
    MoneyDeposited,
    MoneyWithdrawn,
    OpenAccount,
    Withdraw,
)

ID, OWNER = uuid4(), uuid4()
OPENED = AccountOpened(account_id=ID, customer_id=OWNER, currency="EUR")


def moved(events: list[AccountEvent]) -> MoneyDeposited | MoneyWithdrawn:
    """The one money movement ``events`` hold."""
    (event,) = events
    assert isinstance(event, MoneyDeposited | MoneyWithdrawn), event
    return event


def history(*events: AccountEvent) -> Account | None:
    state: Account | None = None
    for event in events:
        state = evolve(state, event)
    return state


def deposited(amount: str, balance: str) -> MoneyDeposited:
    return MoneyDeposited(
        reference="",
        account_id=ID,
        customer_id=OWNER,
        currency="EUR",
        amount=Decimal(amount),
        balance=Decimal(balance),
    )


def test_open_emits_opened_in_the_given_currency() -> None:
    assert decide(None, OpenAccount(customer_id=OWNER, currency="usd"), ID) == [
        AccountOpened(account_id=ID, customer_id=OWNER, currency="USD")
    ]


def test_open_twice_is_rejected() -> None:
    with pytest.raises(AlreadyExists):
        decide(history(OPENED), OpenAccount(customer_id=OWNER), ID)


def test_a_customer_with_fewer_than_the_most_accounts_may_open_another() -> None:
    check_room(OWNER, MAX_ACCOUNTS_PER_CUSTOMER - 1)


def test_a_customer_with_the_most_accounts_may_open_no_other() -> None:
    with pytest.raises(TooManyAccounts, match=f"{MAX_ACCOUNTS_PER_CUSTOMER} accounts") as rejected:
        check_room(OWNER, MAX_ACCOUNTS_PER_CUSTOMER)
    assert rejected.value.code == "validation_error"
    assert str(OWNER) in rejected.value.message


def test_a_new_account_has_a_zero_balance_in_currency_digits() -> None:
    state = history(OPENED)
    assert state is not None
    assert str(state.balance) == "0.00"


def test_deposit_carries_owner_currency_and_the_balance_after() -> None:
    events = decide(history(OPENED, deposited("5.00", "5.00")), Deposit(account_id=ID, amount="10.5"), ID)
    assert events == [deposited("10.50", "15.50")]
    assert str(moved(events).amount) == "10.50"


def test_withdraw_within_the_balance_emits_withdrawn() -> None:
    events = decide(history(OPENED, deposited("300.00", "300.00")), Withdraw(account_id=ID, amount="10"), ID)
    assert events == [
        MoneyWithdrawn(
            reference="",
            account_id=ID,
            customer_id=OWNER,
            currency="EUR",
            amount=Decimal("10.00"),
            balance=Decimal("290.00"),
        )
    ]


def test_withdrawing_the_whole_balance_leaves_zero() -> None:
    events = decide(history(OPENED, deposited("10.00", "10.00")), Withdraw(account_id=ID, amount="10.00"), ID)
    assert moved(events).balance == Decimal("0.00")


def test_withdrawal_beyond_balance_is_rejected() -> None:
    with pytest.raises(InsufficientFunds, match=r"balance is 10\.00"):
        decide(history(OPENED, deposited("10.00", "10.00")), Withdraw(account_id=ID, amount="10.01"), ID)


def test_more_decimals_than_the_currency_has_is_a_validation_error_on_amount() -> None:
    with pytest.raises(InvalidValue) as caught:
        decide(history(OPENED), Deposit(account_id=ID, amount="1.005"), ID)
    assert "2 minor-unit digits" in caught.value.fields["amount"]


def test_yen_takes_no_decimals() -> None:
    yen = AccountOpened(account_id=ID, customer_id=OWNER, currency="JPY")
    with pytest.raises(InvalidValue):
        decide(history(yen), Deposit(account_id=ID, amount="1.5"), ID)
    assert str(moved(decide(history(yen), Deposit(account_id=ID, amount="1500"), ID)).balance) == "1500"


@pytest.mark.parametrize("command", [Deposit(account_id=ID, amount="1"), Withdraw(account_id=ID, amount="1")])
def test_money_moves_on_a_missing_account_are_not_found(command: Deposit | Withdraw) -> None:
    with pytest.raises(NotFound):
        decide(None, command, ID)


amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("500"), places=2)
moves = st.lists(st.tuples(st.sampled_from(["deposit", "withdraw"]), amounts), max_size=60)


@settings(max_examples=300, deadline=None)
@given(moves)
def test_no_sequence_of_moves_makes_a_balance_negative_or_disagree_with_its_events(
    plan: list[tuple[str, Decimal]],
) -> None:
    state = history(OPENED)
    total = Decimal(0)
    for kind, amount in plan:
        command = (
            Deposit(account_id=ID, amount=amount)
            if kind == "deposit"
            else Withdraw(account_id=ID, amount=amount)
        )
        try:
            events = decide(state, command, ID)
        except InsufficientFunds:
            assert state is not None
            assert amount > state.balance
            continue
        for event in events:
            assert isinstance(event, MoneyDeposited | MoneyWithdrawn)
            total += event.amount if isinstance(event, MoneyDeposited) else -event.amount
            state = evolve(state, event)
            assert state.balance >= 0
            assert state.balance == total
            assert event.balance == total
