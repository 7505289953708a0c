"""Projections are pure: an event becomes one version-gated document change."""

from decimal import Decimal
from uuid import uuid4

from cqrs_contracts import (
    AccountOpened,
    CustomerCreated,
    CustomerDetailsEdited,
    CustomerMadePreferred,
    MoneyDeposited,
)
from query_service.projection.projections import document_owner, fold_name, project
from query_service.read_model.layout import CUSTOMERS
from tests.builders import AT, envelope

ID = uuid4()


def test_created_sets_every_field_and_the_folded_name() -> None:
    [change] = project(envelope(CustomerCreated(customer_id=ID, name="Ada LOVELACE", locale="en-GB"), 1))
    assert (change.collection, change.doc_id, change.gate, change.version) == (
        CUSTOMERS,
        str(ID),
        "version",
        1,
    )
    assert change.fields == {
        "name": "Ada LOVELACE",
        "name_folded": "ada lovelace",
        "locale": "en-GB",
        "is_preferred": False,
        "created_at": AT,
        "updated_at": AT,
    }


def test_made_preferred_sets_only_the_flag_and_time() -> None:
    [change] = project(envelope(CustomerMadePreferred(customer_id=ID), 2))
    assert change.fields == {"is_preferred": True, "updated_at": AT}
    assert change.version == 2


def test_edit_refolds_the_name() -> None:
    [change] = project(envelope(CustomerDetailsEdited(customer_id=ID, name="Straße", locale="de"), 3))
    assert change.fields["name_folded"] == "strasse"


def test_fold_name_ignores_case_and_surrounding_space() -> None:
    assert fold_name("  GRACE Hopper ") == fold_name("grace hopper")


def test_an_account_event_updates_history_and_ledger_then_customer_then_account_last() -> None:
    account_id = uuid4()
    event = MoneyDeposited(
        reference="",
        account_id=account_id,
        customer_id=ID,
        currency="EUR",
        amount=Decimal("5.00"),
        balance=Decimal("15.00"),
    )
    changes = project(envelope(event, 3))
    assert [(c.collection, c.gate, c.version) for c in changes] == [
        ("transactions", "recorded.v3", 1),
        ("ledger", "recorded", 1),
        ("customers", f"accounts.{account_id}.version", 3),
        ("accounts", "version", 3),
    ]
    assert changes[0].doc_id == f"{account_id}/0"  # the bucket of versions 0-49: one document
    assert changes[0].shared
    assert not changes[2].shared  # a later version of the account in it: an update under its gate
    assert not changes[2].fills
    assert changes[0].fields["items.v3"].startswith("deposit|5.00|15.00|")
    assert changes[1].doc_id == f"{account_id}:0000000003"  # ids sort by account, then version
    assert (changes[1].fields["amount_minor"], changes[1].fields["balance_after_minor"]) == (500, 1500)
    assert changes[2].fields == {
        f"accounts.{account_id}.currency": "EUR",
        f"accounts.{account_id}.balance": "15.00",
    }


def test_account_opened_embeds_a_zero_balance_in_currency_digits() -> None:
    account_id = uuid4()
    event = AccountOpened(account_id=account_id, customer_id=ID, currency="JPY")
    changes = project(envelope(event, 1))
    assert [c.collection for c in changes] == ["customers", "accounts"]
    assert changes[0].fills  # the customer's document exists: filled, not inserted (a failed insert)
    assert not changes[0].shared  # not a bucket: a catch-up batch merges it with the later versions
    assert changes[1].fields["balance"] == "0"
    assert changes[1].fields["customer_id"] == str(ID)


def test_a_customers_events_and_its_accounts_events_have_one_document_owner() -> None:
    account = uuid4()
    opened = AccountOpened(account_id=account, customer_id=ID, currency="EUR")
    deposited = MoneyDeposited(
        reference="",
        account_id=account,
        customer_id=ID,
        currency="EUR",
        amount=Decimal("5.00"),
        balance=Decimal("5.00"),
    )
    owners = {
        document_owner(envelope(CustomerMadePreferred(customer_id=ID), 2)),
        document_owner(envelope(opened, 1)),
        document_owner(envelope(deposited, 2)),
    }
    assert owners == {ID}
