"""The customer decider, as given events / when command / then events or rejection."""

from uuid import uuid4

import pytest

from command_service.domain.customer import Customer, decide, evolve
from command_service.domain.errors import AlreadyExists, NotFound
from cqrs_contracts import (
    ChangeCustomerLocale,
    CreateCustomer,
    CustomerCreated,
    CustomerDetailsEdited,
    CustomerEvent,
    CustomerLocaleChanged,
    CustomerMadePreferred,
    EditCustomerDetails,
    MakeCustomerPreferred,
)

ID = uuid4()


def given(*events: CustomerEvent) -> Customer | None:
    state: Customer | None = None
    for event in events:
        state = evolve(state, event)
    return state


CREATED = CustomerCreated(customer_id=ID, name="Ada", locale="en-GB")


def test_create_emits_created_with_canonical_values() -> None:
    events = decide(None, CreateCustomer(name=" Ada ", locale="EN-gb"), ID)
    assert events == [CustomerCreated(customer_id=ID, name="Ada", locale="en-GB")]


def test_create_twice_is_rejected_as_already_exists() -> None:
    with pytest.raises(AlreadyExists):
        decide(given(CREATED), CreateCustomer(name="Ada", locale="en"), ID)


@pytest.mark.parametrize(
    "command",
    [
        MakeCustomerPreferred(customer_id=ID),
        ChangeCustomerLocale(customer_id=ID, locale="fr"),
        EditCustomerDetails(customer_id=ID, name="Bob"),
    ],
)
def test_commands_on_a_missing_customer_are_rejected_as_not_found(
    command: MakeCustomerPreferred | ChangeCustomerLocale | EditCustomerDetails,
) -> None:
    with pytest.raises(NotFound):
        decide(None, command, ID)


def test_make_preferred_emits_made_preferred() -> None:
    assert decide(given(CREATED), MakeCustomerPreferred(customer_id=ID), ID) == [
        CustomerMadePreferred(customer_id=ID)
    ]


def test_make_preferred_when_already_preferred_emits_nothing() -> None:
    state = given(CREATED, CustomerMadePreferred(customer_id=ID))
    assert decide(state, MakeCustomerPreferred(customer_id=ID), ID) == []


def test_change_locale_emits_locale_changed() -> None:
    assert decide(given(CREATED), ChangeCustomerLocale(customer_id=ID, locale="pt-br"), ID) == [
        CustomerLocaleChanged(customer_id=ID, locale="pt-BR")
    ]


def test_change_to_the_same_locale_emits_nothing() -> None:
    assert decide(given(CREATED), ChangeCustomerLocale(customer_id=ID, locale="en-gb"), ID) == []


def test_edit_carries_the_full_new_details() -> None:
    assert decide(given(CREATED), EditCustomerDetails(customer_id=ID, name="Ada King"), ID) == [
        CustomerDetailsEdited(customer_id=ID, name="Ada King", locale="en-GB")
    ]


def test_edit_without_change_emits_nothing() -> None:
    assert decide(given(CREATED), EditCustomerDetails(customer_id=ID, name="Ada", locale="en-GB"), ID) == []


def test_evolve_folds_every_event() -> None:
    state = given(
        CREATED,
        CustomerMadePreferred(customer_id=ID),
        CustomerLocaleChanged(customer_id=ID, locale="fr"),
        CustomerDetailsEdited(customer_id=ID, name="Ada King", locale="de"),
    )
    assert state == Customer(id=ID, name="Ada King", locale="de", is_preferred=True)
