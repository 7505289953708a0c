"""Queries to the query service (and the command side's stream read), with their results."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field, field_validator

from cqrs_contracts.base import MAX_CURSOR_LENGTH, MAX_VERSION, Answered, Contract, Tolerant
from cqrs_contracts.consistency import Token
from cqrs_contracts.events import EventEnvelope
from cqrs_contracts.money import Balance
from cqrs_contracts.projection import GetProjectionStatus, RebuildReadModel, VerifyStream
from cqrs_contracts.streams import STREAM_TYPES, StreamType

MAX_PAGE = 500
PageSize = Annotated[int, Field(ge=1, le=MAX_PAGE)]


MinVersion = Annotated[int | None, Field(default=None, ge=1, le=MAX_VERSION)]
Cursor = Annotated[str | None, Field(default=None, min_length=1, max_length=MAX_CURSOR_LENGTH)]


class AccountSummary(Tolerant):
    """One of a customer's accounts, as embedded in the customer view."""

    id: UUID
    currency: str
    balance: Balance
    version: int


class CustomerView(Tolerant):
    """The read model of one customer, as the query service serves it: with accounts and totals."""

    id: UUID
    name: str
    locale: str
    is_preferred: bool
    version: int
    created_at: datetime
    updated_at: datetime
    accounts: list[AccountSummary] = Field(default_factory=list)
    totals: dict[str, Balance] = Field(default_factory=dict, description="balance per currency")


class AccountView(Tolerant):
    id: UUID
    customer_id: UUID
    currency: str
    balance: Balance
    version: int
    opened_at: datetime
    updated_at: datetime


class TransactionView(Tolerant):
    version: int
    kind: Literal["deposit", "withdrawal"]
    amount: Balance
    balance_after: Balance
    at: datetime
    reference: str = ""
    transfer_id: UUID | None = Field(default=None, description="the transfer this was a step of")
    counterpart: UUID | None = Field(default=None, description="the transfer's other account")


class TransactionPage(Tolerant):
    items: list[TransactionView]
    next: str | None


class CustomerPage(Tolerant):
    """One page of a list; pass ``next`` back as ``after`` for the following page."""

    items: list[CustomerView]
    next: str | None


class GetCustomer(Contract, Answered[CustomerView]):
    """One customer with accounts; ``min_version``/``token`` wait (bounded) until the view has them."""

    type: Literal["GetCustomer"] = "GetCustomer"
    customer_id: UUID
    min_version: MinVersion = None
    token: Token = ()


class GetCustomersWithName(Contract, Answered[CustomerPage]):
    """Customers whose name equals ``name``, ignoring case."""

    type: Literal["GetCustomersWithName"] = "GetCustomersWithName"
    name: str = Field(min_length=1, max_length=200)
    limit: PageSize = 50
    after: Cursor = None


class GetPreferredCustomers(Contract, Answered[CustomerPage]):
    type: Literal["GetPreferredCustomers"] = "GetPreferredCustomers"
    limit: PageSize = 50
    after: Cursor = None


class GetAccount(Contract, Answered[AccountView]):
    type: Literal["GetAccount"] = "GetAccount"
    account_id: UUID
    min_version: MinVersion = None
    token: Token = ()


class GetAccountTransactions(Contract, Answered[TransactionPage]):
    """An account's deposits and withdrawals, newest first."""

    type: Literal["GetAccountTransactions"] = "GetAccountTransactions"
    account_id: UUID
    limit: PageSize = 50
    after: Cursor = None
    token: Token = ()


TransferStatus = Literal["requested", "debited", "completed", "failed"]


class TransferStepView(Tolerant):
    """One step the transfer took, when its event was committed."""

    step: Literal["requested", "debited", "completed", "failed"]
    at: datetime


class TransferView(Tolerant):
    """A transfer as the query service serves it: where it stands, and the steps it took."""

    id: UUID
    from_account_id: UUID
    to_account_id: UUID
    currency: str
    amount: Balance
    reference: str = ""
    status: TransferStatus
    refunded: bool = False
    reason: str | None = None
    steps: list[TransferStepView] = Field(default_factory=list)
    requested_at: datetime
    updated_at: datetime
    version: int


class TransferPage(Tolerant):
    items: list[TransferView]
    next: str | None


class GetTransfer(Contract, Answered[TransferView]):
    """One transfer; ``min_version``/``token`` wait (bounded) until the view has them."""

    type: Literal["GetTransfer"] = "GetTransfer"
    transfer_id: UUID
    min_version: MinVersion = None
    token: Token = ()


class ListTransfers(Contract, Answered[TransferPage]):
    """Transfers newest first; ``stuck``: only those not ended ``older_than`` seconds after they
    were requested (a transfer past its budget)."""

    type: Literal["ListTransfers"] = "ListTransfers"
    stuck: bool = False
    older_than: Annotated[float, Field(ge=0, le=86_400 * 365)] = 60.0
    limit: PageSize = 50
    after: Cursor = None


class StreamEvents(Tolerant):
    events: list[EventEnvelope]


class ReadStream(Contract, Answered[StreamEvents]):
    """Ask the command side for a stream's events after a version (the projector's gap repair)."""

    type: Literal["ReadStream"] = "ReadStream"
    stream_id: UUID
    after_version: int = Field(default=0, ge=0, le=MAX_VERSION)
    limit: Annotated[int, Field(ge=1, le=1000)] = 1000


class StreamRef(Tolerant):
    stream_type: StreamType
    stream_id: UUID
    version: int


class StreamList(Tolerant):
    """A page of the streams. A stream of a kind this reader does not know is skipped, not refused
    (stream types are an open set: docs/evolution.md); ``next`` pages on all the same."""

    streams: list[StreamRef]
    next: UUID | None = Field(description="pass back as `after` for the next page; none after the last")
    total: int | None = Field(default=None, description="how many streams there are (on the first page)")

    @field_validator("streams", mode="before")
    @classmethod
    def _known_kinds(cls, streams: Any) -> Any:
        if not isinstance(streams, list):
            return streams
        return [ref for ref in streams if not _unknown_kind(ref)]


def _unknown_kind(ref: Any) -> bool:
    kind = ref.get("stream_type") if isinstance(ref, dict) else None
    return isinstance(kind, str) and kind not in STREAM_TYPES


class ListStreams(Contract, Answered[StreamList]):
    """Ask the command side for its streams, a page at a time in id order (a rebuild or a verify
    of the read model reads them all)."""

    type: Literal["ListStreams"] = "ListStreams"
    after: UUID | None = None
    limit: Annotated[int, Field(ge=1, le=1000)] = 1000


class PositionedEvents(Tolerant):
    """Events in the global commit order; ``head``: the last position committed when it was read."""

    events: list[EventEnvelope] = Field(description="each with its position")
    head: int = Field(ge=0)


class ReadAll(Contract, Answered[PositionedEvents]):
    """Ask the command side for the events of every stream after a global position, in commit order
    (a subscriber catching up). Positions are gap-free: the first event after ``after_position`` is
    at ``after_position + 1``; fewer than ``limit`` events means the reader is at the head."""

    type: Literal["ReadAll"] = "ReadAll"
    after_position: int = Field(default=0, ge=0, le=2**63 - 1)
    limit: Annotated[int, Field(ge=1, le=1000)] = 500


Query = Annotated[
    GetCustomer
    | GetCustomersWithName
    | GetPreferredCustomers
    | GetAccount
    | GetAccountTransactions
    | GetTransfer
    | ListTransfers
    | RebuildReadModel
    | GetProjectionStatus
    | VerifyStream,
    Field(discriminator="type"),
]
