"""Queries to the query service (and the command side's stream read), with their results."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from cqrs_shared.contracts.base import Contract
from cqrs_shared.contracts.events import EventEnvelope

MAX_PAGE = 500
PageSize = Annotated[int, Field(ge=1, le=MAX_PAGE)]


class GetCustomer(Contract):
    """One customer; with ``min_version``, wait (bounded) until the view has that version."""

    type: Literal["GetCustomer"] = "GetCustomer"
    customer_id: UUID
    min_version: int | None = Field(default=None, ge=1)


class GetCustomersWithName(Contract):
    """Customers whose name equals ``name``, ignoring case."""

    type: Literal["GetCustomersWithName"] = "GetCustomersWithName"
    name: str = Field(min_length=1, max_length=200)
    limit: PageSize = 50
    after: str | None = None


class GetPreferredCustomers(Contract):
    type: Literal["GetPreferredCustomers"] = "GetPreferredCustomers"
    limit: PageSize = 50
    after: str | None = None


Query = Annotated[GetCustomer | GetCustomersWithName | GetPreferredCustomers, Field(discriminator="type")]

QUERY_TYPES: dict[str, type[Contract]] = {
    model.model_fields["type"].default: model
    for model in (GetCustomer, GetCustomersWithName, GetPreferredCustomers)
}


class CustomerView(Contract):
    """The read model of one customer, as the query service serves it."""

    id: UUID
    name: str
    locale: str
    is_preferred: bool
    version: int
    created_at: datetime
    updated_at: datetime


class CustomerPage(Contract):
    """One page of a list; pass ``next`` back as ``after`` for the following page."""

    items: list[CustomerView]
    next: str | None


class ReadStream(Contract):
    """Ask the command side for a stream's events after a version (the projector's gap repair)."""

    type: Literal["ReadStream"] = "ReadStream"
    stream_id: UUID
    after_version: int = Field(default=0, ge=0)
    limit: Annotated[int, Field(ge=1, le=1000)] = 1000


class StreamEvents(Contract):
    events: list[EventEnvelope]
