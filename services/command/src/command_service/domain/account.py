"""The bank account decider: open, deposit, withdraw; the balance never goes below zero nor above
MAX_BALANCE; a customer has at most MAX_ACCOUNTS_PER_CUSTOMER accounts."""

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import assert_never
from uuid import UUID

from command_service.domain.errors import (
    AlreadyExists,
    InsufficientFunds,
    InvalidValue,
    NotFound,
    TooManyAccounts,
)
from cqrs_contracts import (
    AccountCommand,
    AccountEvent,
    AccountOpened,
    Deposit,
    MoneyDeposited,
    MoneyWithdrawn,
    OpenAccount,
    Withdraw,
)
from cqrs_contracts.money import MAX_AMOUNT, in_currency
from cqrs_contracts.transfers import REFUND

# The read model embeds every account in its customer's document (MongoDB: 16 MB at most), and the
# customer view lists them all: a bound keeps both small. Raise it only with the view paged.
MAX_ACCOUNTS_PER_CUSTOMER = 100
# A balance has a ceiling, as the amount of one command has (MAX_AMOUNT): a read model or report
# summing balances stays within exact decimal precision. It is also the honest way a deposit, and so
# a transfer's credit, can be refused (tests/e2e/test_transfers.py relies on it).
MAX_BALANCE = 100 * MAX_AMOUNT


@dataclass(frozen=True)
class Account:
    id: UUID
    customer_id: UUID
    currency: str
    balance: Decimal


def decide(state: Account | None, command: AccountCommand, stream_id: UUID) -> list[AccountEvent]:
    """The events ``command`` causes, or a DomainError saying why it is rejected."""
    if isinstance(command, OpenAccount):
        if state is not None:
            raise AlreadyExists(f"account {stream_id} already exists")
        return [
            AccountOpened(account_id=stream_id, customer_id=command.customer_id, currency=command.currency)
        ]
    if state is None:
        raise NotFound(f"account {stream_id} does not exist")
    amount = _amount(command.amount, state.currency)
    if isinstance(command, Deposit):
        if state.balance + amount > MAX_BALANCE and not _refund(command):
            raise InvalidValue(
                f"account {state.id} holds at most {MAX_BALANCE} {state.currency}: "
                f"the balance is {state.balance}",
                {"amount": f"more than the account can take ({MAX_BALANCE - state.balance})"},
            )
        return [_moved(MoneyDeposited, state, command, amount, state.balance + amount)]
    if isinstance(command, Withdraw):
        if amount > state.balance:
            raise InsufficientFunds(
                f"cannot withdraw {amount} {state.currency} from account {state.id}: "
                f"the balance is {state.balance}"
            )
        return [_moved(MoneyWithdrawn, state, command, amount, state.balance - amount)]
    assert_never(command)


def _refund(command: Deposit) -> bool:
    """A transfer's refund puts back money that left this account: it must never be refused, or the
    money would be nowhere (the source filled up meanwhile: tests/unit/test_account_decider.py)."""
    return command.transfer is not None and command.transfer.step == REFUND


def check_room(customer_id: UUID, accounts: int) -> None:
    """Whether a customer who has ``accounts`` accounts may open another; a DomainError if not.

    The count comes with the customer's stream (the event store counts the accounts it creates for
    each customer), not from the customer's events: no event on the customer stream records them.
    """
    if accounts >= MAX_ACCOUNTS_PER_CUSTOMER:
        raise TooManyAccounts(
            f"customer {customer_id} has {accounts} accounts, the most one customer may have"
            f" ({MAX_ACCOUNTS_PER_CUSTOMER}): no account was opened",
            {"customer_id": f"has {accounts} accounts already, at most {MAX_ACCOUNTS_PER_CUSTOMER}"},
        )


def evolve(state: Account | None, event: AccountEvent) -> Account:
    if isinstance(event, AccountOpened):
        zero = in_currency(Decimal(0), event.currency)
        return Account(
            id=event.account_id, customer_id=event.customer_id, currency=event.currency, balance=zero
        )
    if state is None:
        raise ValueError(f"{event.type} before AccountOpened")
    if isinstance(event, MoneyDeposited | MoneyWithdrawn):
        return replace(state, balance=event.balance)
    assert_never(event)


def _amount(amount: Decimal, currency: str) -> Decimal:
    try:
        return in_currency(amount, currency)
    except ValueError as error:
        raise InvalidValue(f"invalid amount for a {currency} account", {"amount": str(error)}) from None


def _moved(
    kind: type[MoneyDeposited] | type[MoneyWithdrawn],
    state: Account,
    command: Deposit | Withdraw,
    amount: Decimal,
    balance: Decimal,
) -> MoneyDeposited | MoneyWithdrawn:
    return kind(
        account_id=state.id,
        customer_id=state.customer_id,
        currency=state.currency,
        amount=amount,
        balance=balance,
        reference=command.reference,
        transfer=command.transfer,
    )
