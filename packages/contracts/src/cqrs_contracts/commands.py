"""Commands: imperative requests to the command service. The body's ``type`` names the command."""

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, model_validator

from cqrs_contracts.base import MAX_VERSION, Contract
from cqrs_contracts.money import Amount
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


class Withdraw(Versioned):
    """Take money out; never below a balance of zero (``insufficient_funds``)."""

    type: Literal["Withdraw"] = "Withdraw"
    account_id: UUID
    amount: Amount
    reference: Reference = ""
    """The sender's words for it (at most 140 characters), shown in the account's history."""


# Each aggregate's commands, spelled here once: the deciders match on them (and end in assert_never,
# so a command added here and not decided fails mypy), and Command is their union.
CustomerCommand = CreateCustomer | MakeCustomerPreferred | ChangeCustomerLocale | EditCustomerDetails
AccountCommand = OpenAccount | Deposit | Withdraw

Command = Annotated[CustomerCommand | AccountCommand, Field(discriminator="type")]
