"""Domain events, past tense, and the envelope that places one in its stream."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from cqrs_shared.contracts.base import Contract
from cqrs_shared.contracts.money import Balance
from cqrs_shared.contracts.streams import StreamType


class CustomerCreated(Contract):
    type: Literal["CustomerCreated"] = "CustomerCreated"
    customer_id: UUID
    name: str
    locale: str


class CustomerMadePreferred(Contract):
    type: Literal["CustomerMadePreferred"] = "CustomerMadePreferred"
    customer_id: UUID


class CustomerLocaleChanged(Contract):
    type: Literal["CustomerLocaleChanged"] = "CustomerLocaleChanged"
    customer_id: UUID
    locale: str


class CustomerDetailsEdited(Contract):
    """Carries the full new name and locale, so a reader needs no earlier event."""

    type: Literal["CustomerDetailsEdited"] = "CustomerDetailsEdited"
    customer_id: UUID
    name: str
    locale: str


class AccountOpened(Contract):
    type: Literal["AccountOpened"] = "AccountOpened"
    account_id: UUID
    customer_id: UUID
    currency: str


class MoneyDeposited(Contract):
    """Carries the owner, the currency and the balance after it: a reader needs nothing else."""

    type: Literal["MoneyDeposited"] = "MoneyDeposited"
    account_id: UUID
    customer_id: UUID
    currency: str
    amount: Balance
    balance: Balance


class MoneyWithdrawn(Contract):
    type: Literal["MoneyWithdrawn"] = "MoneyWithdrawn"
    account_id: UUID
    customer_id: UUID
    currency: str
    amount: Balance
    balance: Balance


Event = Annotated[
    CustomerCreated
    | CustomerMadePreferred
    | CustomerLocaleChanged
    | CustomerDetailsEdited
    | AccountOpened
    | MoneyDeposited
    | MoneyWithdrawn,
    Field(discriminator="type"),
]

# Topic routing keys on exchange cqrs.events: "<stream type>.<what happened>".
_ROUTING_KEYS: dict[str, str] = {
    "CustomerCreated": "customer.created",
    "CustomerMadePreferred": "customer.made_preferred",
    "CustomerLocaleChanged": "customer.locale_changed",
    "CustomerDetailsEdited": "customer.details_edited",
    "AccountOpened": "account.opened",
    "MoneyDeposited": "account.money_deposited",
    "MoneyWithdrawn": "account.money_withdrawn",
}


def routing_key(event_type: str) -> str:
    """The routing key an event of this type is published with."""
    return _ROUTING_KEYS[event_type]


class EventEnvelope(Contract):
    """One committed event at its place in its stream: the body of every event message."""

    event_id: UUID
    stream_type: StreamType
    stream_id: UUID
    version: int = Field(ge=1)
    occurred_at: datetime
    event: Event
