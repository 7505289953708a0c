"""The document layout: what the projections write, it reads back as the views the queries serve."""

from decimal import Decimal
from typing import Any
from uuid import uuid4

from cqrs_contracts import (
    STREAM_TYPES,
    AccountOpened,
    CustomerCreated,
    CustomerMadePreferred,
    EventEnvelope,
    MoneyDeposited,
    MoneyWithdrawn,
)
from query_service.projection.projections import project
from query_service.read_model import layout
from tests.builders import AT, stream

Documents = dict[tuple[str, str], dict[str, Any]]


def applied(envelopes: list[EventEnvelope]) -> Documents:
    """Every change set in memory, dotted paths as nested fields (no gates: the events are in order)."""
    docs: Documents = {}
    for envelope in envelopes:
        for change in project(envelope):
            doc = docs.setdefault((change.collection, change.doc_id), {layout.ID: change.doc_id})
            for path, value in {**change.fields, change.gate: change.version}.items():
                *parents, leaf = path.split(".")
                target = doc
                for part in parents:
                    target = target.setdefault(part, {})
                target[leaf] = value
    return docs


def test_the_views_read_what_the_projections_wrote() -> None:
    customer, eur, usd = uuid4(), uuid4(), uuid4()
    docs = applied(
        stream(CustomerCreated(customer_id=customer, name="Ada", locale="en"))
        + stream(
            AccountOpened(account_id=eur, customer_id=customer, currency="EUR"),
            MoneyDeposited(
                reference="",
                account_id=eur,
                customer_id=customer,
                currency="EUR",
                amount=Decimal(9),
                balance=Decimal(9),
            ),
            MoneyWithdrawn(
                reference="",
                account_id=eur,
                customer_id=customer,
                currency="EUR",
                amount=Decimal(2),
                balance=Decimal(7),
            ),
        )
        + stream(AccountOpened(account_id=usd, customer_id=customer, currency="USD"))
    )
    view = layout.customer_view(docs[layout.CUSTOMERS, str(customer)])
    assert (view.id, view.name, view.locale, view.is_preferred, view.version) == (
        customer,
        "Ada",
        "en",
        False,
        1,
    )
    assert (view.created_at, view.updated_at) == (AT, AT)
    assert [(a.id, a.currency, a.balance, a.version) for a in view.accounts] == sorted(
        [(eur, "EUR", Decimal(7), 3), (usd, "USD", Decimal(0), 1)], key=lambda a: str(a[0])
    )
    assert view.totals == {"EUR": Decimal(7), "USD": Decimal(0)}
    account = layout.account_view(docs[layout.ACCOUNTS, str(eur)])
    assert (account.id, account.customer_id, account.balance, account.version) == (
        eur,
        customer,
        Decimal(7),
        3,
    )
    bucket = docs[layout.TRANSACTIONS, layout.history_bucket(str(eur), 0)]
    items = dict(layout.history_items(bucket))
    assert sorted(items) == [2, 3]
    withdrawal = layout.transaction_view(3, items[3])
    assert (withdrawal.version, withdrawal.kind, withdrawal.amount, withdrawal.balance_after) == (
        3,
        "withdrawal",
        Decimal(2),
        Decimal(7),
    )


def test_an_account_event_before_its_customer_leaves_a_document_that_is_no_customer_yet() -> None:
    customer, account = uuid4(), uuid4()
    docs = applied(stream(AccountOpened(account_id=account, customer_id=customer, currency="EUR")))
    doc = docs[layout.CUSTOMERS, str(customer)]
    assert layout.VERSION not in doc
    assert layout.exists({layout.ID: str(customer)}) == {
        layout.ID: str(customer),
        layout.VERSION: {"$exists": True},
    }


def test_a_customer_without_accounts_has_none_and_no_totals() -> None:
    customer = uuid4()
    docs = applied(
        stream(
            CustomerCreated(customer_id=customer, name="Ada", locale="en"),
            CustomerMadePreferred(customer_id=customer),
        )
    )
    view = layout.customer_view(docs[layout.CUSTOMERS, str(customer)])
    assert (view.is_preferred, view.version, view.accounts, view.totals) == (True, 2, [], {})


def test_every_stream_type_has_a_position_in_the_view() -> None:
    assert set(layout.POSITIONS) == set(STREAM_TYPES)
