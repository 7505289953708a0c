"""The customer decider: decide(state, command) -> events; evolve(state, event) -> state."""

from dataclasses import dataclass, replace
from typing import assert_never
from uuid import UUID

from command_service.domain.errors import AlreadyExists, NotFound
from cqrs_contracts import (
    ChangeCustomerLocale,
    CreateCustomer,
    CustomerCommand,
    CustomerCreated,
    CustomerDetailsEdited,
    CustomerEvent,
    CustomerLocaleChanged,
    CustomerMadePreferred,
    EditCustomerDetails,
    MakeCustomerPreferred,
)


@dataclass(frozen=True)
class Customer:
    id: UUID
    name: str
    locale: str
    is_preferred: bool = False


def decide(state: Customer | None, command: CustomerCommand, stream_id: UUID) -> list[CustomerEvent]:
    """The events ``command`` causes, or a DomainError saying why it is rejected."""
    if isinstance(command, CreateCustomer):
        if state is not None:
            raise AlreadyExists(f"customer {stream_id} already exists")
        return [CustomerCreated(customer_id=stream_id, name=command.name, locale=command.locale)]
    if state is None:
        raise NotFound(f"customer {stream_id} does not exist")
    if isinstance(command, MakeCustomerPreferred):
        return [] if state.is_preferred else [CustomerMadePreferred(customer_id=state.id)]
    if isinstance(command, ChangeCustomerLocale):
        if command.locale == state.locale:
            return []
        return [CustomerLocaleChanged(customer_id=state.id, locale=command.locale)]
    if isinstance(command, EditCustomerDetails):
        name = command.name if command.name is not None else state.name
        locale = command.locale if command.locale is not None else state.locale
        if (name, locale) == (state.name, state.locale):
            return []
        return [CustomerDetailsEdited(customer_id=state.id, name=name, locale=locale)]
    assert_never(command)


def evolve(state: Customer | None, event: CustomerEvent) -> Customer:
    """The state after ``event``; events are facts, so this never rejects."""
    if isinstance(event, CustomerCreated):
        return Customer(id=event.customer_id, name=event.name, locale=event.locale)
    if state is None:
        raise ValueError(f"{event.type} before CustomerCreated")
    if isinstance(event, CustomerMadePreferred):
        return replace(state, is_preferred=True)
    if isinstance(event, CustomerLocaleChanged):
        return replace(state, locale=event.locale)
    if isinstance(event, CustomerDetailsEdited):
        return replace(state, name=event.name, locale=event.locale)
    assert_never(event)
