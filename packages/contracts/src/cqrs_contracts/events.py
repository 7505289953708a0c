"""Domain events, past tense, and the envelope that places one in its stream."""

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from cqrs_contracts.base import Tolerant
from cqrs_contracts.evolution import NewerSchema, upcast
from cqrs_contracts.money import Balance
from cqrs_contracts.streams import STREAM_TYPES, StreamType
from cqrs_contracts.transfers import TransferLeg
from cqrs_contracts.values import Reference


class CustomerCreated(Tolerant):
    type: Literal["CustomerCreated"] = "CustomerCreated"
    customer_id: UUID
    name: str
    locale: str


class CustomerMadePreferred(Tolerant):
    type: Literal["CustomerMadePreferred"] = "CustomerMadePreferred"
    customer_id: UUID


class CustomerLocaleChanged(Tolerant):
    type: Literal["CustomerLocaleChanged"] = "CustomerLocaleChanged"
    customer_id: UUID
    locale: str


class CustomerDetailsEdited(Tolerant):
    """Carries the full new name and locale, so a reader needs no earlier event."""

    type: Literal["CustomerDetailsEdited"] = "CustomerDetailsEdited"
    customer_id: UUID
    name: str
    locale: str


class AccountOpened(Tolerant):
    type: Literal["AccountOpened"] = "AccountOpened"
    account_id: UUID
    customer_id: UUID
    currency: str


class MoneyDeposited(Tolerant):
    """Carries the owner, the currency, the balance after it and the sender's reference: a reader
    needs nothing else. Version 2 added ``reference`` (version 1 events read with an empty one);
    ``transfer`` (optional, so no new version) says which transfer step it was, if one."""

    SCHEMA_VERSION: ClassVar[int] = 2
    type: Literal["MoneyDeposited"] = "MoneyDeposited"
    account_id: UUID
    customer_id: UUID
    currency: str
    amount: Balance
    balance: Balance
    reference: Reference
    transfer: TransferLeg | None = None


class MoneyWithdrawn(Tolerant):
    SCHEMA_VERSION: ClassVar[int] = 2
    type: Literal["MoneyWithdrawn"] = "MoneyWithdrawn"
    account_id: UUID
    customer_id: UUID
    currency: str
    amount: Balance
    balance: Balance
    reference: Reference
    transfer: TransferLeg | None = None


class TransferRequested(Tolerant):
    """A transfer was accepted: both accounts exist and share ``currency``. Carries both owners, so
    a reader needs nothing else."""

    type: Literal["TransferRequested"] = "TransferRequested"
    transfer_id: UUID
    from_account_id: UUID
    to_account_id: UUID
    from_customer_id: UUID
    to_customer_id: UUID
    currency: str
    amount: Balance
    reference: Reference


class TransferDebited(Tolerant):
    """The money left the source account (the withdrawal's event id)."""

    type: Literal["TransferDebited"] = "TransferDebited"
    transfer_id: UUID
    withdrawal: UUID


class TransferCompleted(Tolerant):
    """The money reached the destination account (the deposit's event id)."""

    type: Literal["TransferCompleted"] = "TransferCompleted"
    transfer_id: UUID
    deposit: UUID


class TransferFailed(Tolerant):
    """The transfer ended without moving money: ``refunded`` when it had left the source and was
    deposited back (the refund's event id)."""

    type: Literal["TransferFailed"] = "TransferFailed"
    transfer_id: UUID
    reason: str
    refunded: bool
    refund: UUID | None = None


# Each aggregate's events, spelled here once: the deciders' evolve and the projections match on them
# (ending in assert_never), and Event is their union.
CustomerEvent = CustomerCreated | CustomerMadePreferred | CustomerLocaleChanged | CustomerDetailsEdited
AccountEvent = AccountOpened | MoneyDeposited | MoneyWithdrawn
TransferEvent = TransferRequested | TransferDebited | TransferCompleted | TransferFailed

Event = Annotated[CustomerEvent | AccountEvent | TransferEvent, Field(discriminator="type")]

# Topic routing keys on exchange cqrs.events: "<stream type>.<what happened>".
_ROUTING_KEYS: dict[str, str] = {
    "CustomerCreated": "customer.created",
    "CustomerMadePreferred": "customer.made_preferred",
    "CustomerLocaleChanged": "customer.locale_changed",
    "CustomerDetailsEdited": "customer.details_edited",
    "AccountOpened": "account.opened",
    "MoneyDeposited": "account.money_deposited",
    "MoneyWithdrawn": "account.money_withdrawn",
    "TransferRequested": "transfer.requested",
    "TransferDebited": "transfer.debited",
    "TransferCompleted": "transfer.completed",
    "TransferFailed": "transfer.failed",
}


def routing_key(event_type: str) -> str:
    """The routing key an event of this type is published with."""
    return _ROUTING_KEYS[event_type]


_EVENTS = (
    CustomerCreated,
    CustomerMadePreferred,
    CustomerLocaleChanged,
    CustomerDetailsEdited,
    AccountOpened,
    MoneyDeposited,
    MoneyWithdrawn,
    TransferRequested,
    TransferDebited,
    TransferCompleted,
    TransferFailed,
)
EVENT_VERSIONS = {str(model.model_fields["type"].default): model.SCHEMA_VERSION for model in _EVENTS}


def unreadable(body: Any) -> str | None:
    """Why this reader cannot read the event envelope ``body`` yet (a newer schema version, or an
    event type or stream type it does not know), or None. Such an event waits for a newer reader."""
    if not isinstance(body, dict) or not isinstance(body.get("event"), dict):
        return None
    event_type = body["event"].get("type")
    if isinstance(event_type, str) and event_type not in EVENT_VERSIONS:
        return f"event type {event_type[:100]!r} is unknown to this reader"
    stream_type = body.get("stream_type")
    if isinstance(stream_type, str) and stream_type not in STREAM_TYPES:
        return f"stream type {stream_type[:100]!r} is unknown to this reader"
    try:
        upcast(body["event"], body.get(SCHEMA_KEY, 1), EVENT_VERSIONS)
    except NewerSchema as error:
        return str(error)
    except ValueError:
        return None
    return None


SCHEMA_KEY = "schema_version"


class EventEnvelope(Tolerant):
    """One committed event at its place in its stream: the body of every event message.

    On the wire it also carries ``schema_version``, the event's schema version, where that is not 1
    (so a reader from before versions existed still reads version-1 events). Read, the event is
    brought up to the version this code knows (contracts/evolution.py).
    """

    event_id: UUID
    stream_type: StreamType
    stream_id: UUID
    version: int = Field(ge=1)
    occurred_at: datetime
    event: Event
    position: int | None = Field(default=None, ge=1)
    """The event's place in the global commit order of all streams (gap-free, from 1): given on
    events published from a store that positions them, and on every event ReadAll answers."""

    @property
    def schema_version(self) -> int:
        return self.event.SCHEMA_VERSION

    @property
    def partition_key(self) -> UUID:
        """The customer whose documents this event changes: an account's events change its
        customer's document too. Events with one key are read in order by one reader at a time
        (the query service's partitions, messaging.topology)."""
        event = self.event
        if isinstance(event, AccountEvent):
            return event.customer_id
        return self.stream_id

    @model_validator(mode="before")
    @classmethod
    def _upcast(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("event"), dict):
            data = dict(data)
            data["event"] = upcast(data["event"], data.pop(SCHEMA_KEY, 1), EVENT_VERSIONS)
        return data

    @model_serializer(mode="wrap")
    def _with_version(self, write: SerializerFunctionWrapHandler) -> dict[str, Any]:
        written: dict[str, Any] = write(self)
        if self.schema_version != 1:
            written[SCHEMA_KEY] = self.schema_version
        return written
