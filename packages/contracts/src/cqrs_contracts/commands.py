"""Commands: imperative requests to the command service. The body's ``type`` names the command."""

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, model_validator

from cqrs_contracts.base import MAX_VERSION, Contract
from cqrs_contracts.money import Amount
from cqrs_contracts.transfers import TransferLeg
from cqrs_contracts.values import Currency, CustomerName, Locale, Reference

ExpectedVersion = Annotated[int | None, Field(default=None, ge=0, le=MAX_VERSION)]


class Versioned(Contract):
    """A command that may carry ``expected_version``: then it is rejected unless the stream is there."""

    expected_version: ExpectedVersion = None


class CreateCustomer(Contract):
    """Create a customer; without ``customer_id`` the id is derived from the command id."""

    type: Literal["CreateCustomer"] = "CreateCustomer"
    customer_id: UUID | None = None
    name: CustomerName
    locale: Locale


class MakeCustomerPreferred(Versioned):
    """Mark a customer as preferred; a customer already preferred stays as they are."""

    type: Literal["MakeCustomerPreferred"] = "MakeCustomerPreferred"
    customer_id: UUID


class ChangeCustomerLocale(Versioned):
    """Change the locale a customer is addressed in."""

    type: Literal["ChangeCustomerLocale"] = "ChangeCustomerLocale"
    customer_id: UUID
    locale: Locale


class EditCustomerDetails(Versioned):
    """Change a customer's name and/or locale; at least one must be given."""

    type: Literal["EditCustomerDetails"] = "EditCustomerDetails"
    customer_id: UUID
    name: CustomerName | None = None
    locale: Locale | None = None

    @model_validator(mode="after")
    def _something_to_edit(self) -> "EditCustomerDetails":
        if self.name is None and self.locale is None:
            raise ValueError("give at least one of name and locale")
        return self


class OpenAccount(Contract):
    """Open a bank account for an existing customer; without ``account_id`` it derives from the command id."""

    type: Literal["OpenAccount"] = "OpenAccount"
    account_id: UUID | None = None
    customer_id: UUID
    currency: Currency = "EUR"


class Deposit(Versioned):
    type: Literal["Deposit"] = "Deposit"
    account_id: UUID
    amount: Amount
    reference: Reference = ""
    """The sender's words for it (at most 140 characters), shown in the account's history."""
    transfer: TransferLeg | None = None
    """Set by the transfer process manager only (a client's command that sets it is refused)."""


class Withdraw(Versioned):
    """Take money out; never below a balance of zero (``insufficient_funds``)."""

    type: Literal["Withdraw"] = "Withdraw"
    account_id: UUID
    amount: Amount
    reference: Reference = ""
    """The sender's words for it (at most 140 characters), shown in the account's history."""
    transfer: TransferLeg | None = None
    """Set by the transfer process manager only (a client's command that sets it is refused)."""


class TransferMoney(Contract):
    """Move money between two accounts of one currency; without ``transfer_id`` the id derives from
    the command id. Accepted means requested: a process manager then withdraws from the source,
    deposits to the destination, and on a failure after the withdrawal deposits back; the transfer
    ends ``completed`` or ``failed`` (``GetTransfer``)."""

    type: Literal["TransferMoney"] = "TransferMoney"
    transfer_id: UUID | None = None
    from_account_id: UUID
    to_account_id: UUID
    amount: Amount
    reference: Reference = ""

    @model_validator(mode="after")
    def _two_accounts(self) -> "TransferMoney":
        if self.from_account_id == self.to_account_id:
            raise ValueError("a transfer needs two different accounts")
        return self


class MarkTransferDebited(Contract):
    """The process manager's: the money left the source account (its withdrawal's event was seen)."""

    type: Literal["MarkTransferDebited"] = "MarkTransferDebited"
    transfer_id: UUID
    withdrawal: UUID
    """The id of the withdrawal's event."""


class CompleteTransfer(Contract):
    """The process manager's: the money reached the destination account."""

    type: Literal["CompleteTransfer"] = "CompleteTransfer"
    transfer_id: UUID
    deposit: UUID
    """The id of the deposit's event."""


class FailTransfer(Contract):
    """The process manager's: the transfer cannot complete; ``refunded`` when money had left the
    source and was deposited back."""

    type: Literal["FailTransfer"] = "FailTransfer"
    transfer_id: UUID
    reason: str = Field(min_length=1, max_length=300)
    refunded: bool = False
    refund: UUID | None = None
    """The id of the refund's event, when refunded."""


# Each aggregate's commands, spelled here once: the deciders match on them (and end in assert_never,
# so a command added here and not decided fails mypy), and Command is their union.
CustomerCommand = CreateCustomer | MakeCustomerPreferred | ChangeCustomerLocale | EditCustomerDetails
AccountCommand = OpenAccount | Deposit | Withdraw
TransferCommand = TransferMoney | MarkTransferDebited | CompleteTransfer | FailTransfer

Command = Annotated[CustomerCommand | AccountCommand | TransferCommand, Field(discriminator="type")]

# Commands only the command service's own process manager gives (in process, never off the broker):
# one of these, or a Deposit or Withdraw with a ``transfer``, from a sender is refused.
PROCESS_COMMANDS = frozenset({"MarkTransferDebited", "CompleteTransfer", "FailTransfer"})
