"""A transfer's events become version-gated changes of its one document, which reads back as its
view; a transfer's deposit or withdrawal carries the transfer into the account's history."""

from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

from cqrs_contracts import (
    EventEnvelope,
    MoneyDeposited,
    MoneyWithdrawn,
    TransferCompleted,
    TransferDebited,
    TransferFailed,
    TransferLeg,
    TransferRequested,
)
from query_service.operations.verify import Expected, Fold, differences
from query_service.projection.projections import document_owner, project
from query_service.read_model import layout
from query_service.read_model.changes import TRANSFER_LIST
from query_service.read_model.limits.no_decimal128 import transfer_of
from tests.builders import AT, envelope

TRANSFER, SOURCE, DESTINATION = uuid4(), uuid4(), uuid4()
OWNER, OTHER = uuid4(), uuid4()
LATER = AT + timedelta(seconds=2)


def requested(amount: str = "12.50", currency: str = "EUR") -> TransferRequested:
    return TransferRequested(
        transfer_id=TRANSFER,
        from_account_id=SOURCE,
        to_account_id=DESTINATION,
        from_customer_id=OWNER,
        to_customer_id=OTHER,
        currency=currency,
        amount=Decimal(amount),
        reference="rent",
    )


def applied(envelopes: list[EventEnvelope]) -> dict[str, Any]:
    """The transfer's document after ``envelopes``, applied in order (dotted paths nested)."""
    doc: dict[str, Any] = {layout.ID: str(TRANSFER)}
    for item in envelopes:
        [change] = project(item)
        for path, value in {**change.fields, change.gate: change.version}.items():
            *parents, leaf = path.split(".")
            target = doc
            for part in parents:
                target = target.setdefault(part, {})
            target[leaf] = value
    return doc


def test_a_requested_transfer_makes_its_typed_document_and_joins_the_list() -> None:
    [change] = project(envelope(requested(), 1))
    assert (change.collection, change.doc_id, change.gate, change.version) == (
        "transfers",
        str(TRANSFER),
        "version",
        1,
    )
    assert change.numbered == TRANSFER_LIST
    assert change.fields == {
        "from_account_id": str(SOURCE),
        "to_account_id": str(DESTINATION),
        "from_customer_id": str(OWNER),
        "to_customer_id": str(OTHER),
        "currency": "EUR",
        "amount_minor": 1250,
        "reference": "rent",
        "status": "requested",
        "refunded": False,
        "reason": None,
        "steps.requested": AT,
        "requested_at": AT,
        "updated_at": AT,
        "open": True,
    }


def test_amounts_are_minor_units_of_the_currency() -> None:
    [change] = project(envelope(requested("1500", "JPY"), 1))
    assert change.fields["amount_minor"] == 1500


def test_each_later_step_sets_only_its_own_fields_under_the_next_version() -> None:
    [debited] = project(envelope(TransferDebited(transfer_id=TRANSFER, withdrawal=uuid4()), 2, at=LATER))
    assert (debited.version, debited.numbered) == (2, None)
    assert debited.fields == {"status": "debited", "steps.debited": LATER, "updated_at": LATER}
    [completed] = project(envelope(TransferCompleted(transfer_id=TRANSFER, deposit=uuid4()), 3, at=LATER))
    assert completed.fields == {
        "status": "completed",
        "steps.completed": LATER,
        "open": False,
        "updated_at": LATER,
    }


def test_a_failed_transfer_says_why_and_whether_it_was_refunded() -> None:
    failed = TransferFailed(transfer_id=TRANSFER, reason="account closed", refunded=True, refund=uuid4())
    [change] = project(envelope(failed, 3, at=LATER))
    assert change.fields == {
        "status": "failed",
        "refunded": True,
        "reason": "account closed",
        "steps.failed": LATER,
        "open": False,
        "updated_at": LATER,
    }


def test_a_transfers_events_have_the_transfer_as_their_one_document_owner() -> None:
    for item in (
        envelope(requested(), 1),
        envelope(TransferDebited(transfer_id=TRANSFER, withdrawal=uuid4()), 2),
    ):
        assert document_owner(item) == TRANSFER == item.partition_key


def test_the_view_reads_what_the_projections_wrote_with_steps_in_order() -> None:
    doc = applied(
        [
            envelope(requested(), 1),
            envelope(
                TransferDebited(transfer_id=TRANSFER, withdrawal=uuid4()), 2, at=AT + timedelta(seconds=1)
            ),
            envelope(TransferCompleted(transfer_id=TRANSFER, deposit=uuid4()), 3, at=LATER),
        ]
    )
    view = transfer_of(doc)
    assert (view.id, view.from_account_id, view.to_account_id) == (TRANSFER, SOURCE, DESTINATION)
    assert (view.amount, view.currency, view.reference) == (Decimal("12.50"), "EUR", "rent")
    assert (view.status, view.refunded, view.reason, view.version) == ("completed", False, None, 3)
    assert [(step.step, step.at) for step in view.steps] == [
        ("requested", AT),
        ("debited", AT + timedelta(seconds=1)),
        ("completed", LATER),
    ]
    assert (view.requested_at, view.updated_at) == (AT, LATER)


def test_a_transfer_failed_before_the_debit_shows_requested_then_failed() -> None:
    failed = TransferFailed(transfer_id=TRANSFER, reason="insufficient funds", refunded=False)
    view = transfer_of(applied([envelope(requested(), 1), envelope(failed, 2, at=LATER)]))
    assert (view.status, view.refunded, view.reason) == ("failed", False, "insufficient funds")
    assert [step.step for step in view.steps] == ["requested", "failed"]


def test_a_transfers_withdrawal_carries_the_transfer_into_history_and_ledger() -> None:
    leg = TransferLeg(transfer_id=TRANSFER, counterpart=DESTINATION, step="debit")
    event = MoneyWithdrawn(
        account_id=SOURCE,
        customer_id=OWNER,
        currency="EUR",
        amount=Decimal("12.50"),
        balance=Decimal("87.50"),
        reference="rent",
        transfer=leg,
    )
    history, ledger, *_ = project(envelope(event, 7))
    assert history.fields["legs.v7"] == f"{TRANSFER}|{DESTINATION}|debit"
    bucket = {
        "items": {"v7": history.fields["items.v7"]},
        "legs": {"v7": history.fields["legs.v7"]},
        "recorded": {"v7": 1},
    }
    [(version, line)] = layout.history_items(bucket)
    item = layout.transaction_view(version, line)
    assert (item.kind, item.reference, item.transfer_id, item.counterpart) == (
        "withdrawal",
        "rent",
        TRANSFER,
        DESTINATION,
    )
    assert (ledger.fields["transfer_id"], ledger.fields["counterpart"]) == (str(TRANSFER), str(DESTINATION))


def test_a_plain_deposit_has_no_leg_and_reads_as_before() -> None:
    event = MoneyDeposited(
        account_id=SOURCE,
        customer_id=OWNER,
        currency="EUR",
        amount=Decimal("5.00"),
        balance=Decimal("5.00"),
        reference="a|b",
    )
    history, ledger, *_ = project(envelope(event, 1))
    assert "legs.v1" not in history.fields
    assert (ledger.fields["transfer_id"], ledger.fields["counterpart"]) == (None, None)
    item = layout.transaction_view(1, history.fields["items.v1"])
    assert (item.reference, item.transfer_id, item.counterpart) == ("a|b", None, None)


def test_verify_folds_a_transfer_stream_and_finds_a_status_changed_by_hand() -> None:
    events = [
        envelope(requested(), 1),
        envelope(TransferDebited(transfer_id=TRANSFER, withdrawal=uuid4()), 2, at=LATER),
    ]
    fold = Fold(TRANSFER)
    fold.add(events)
    key = ("transfers", str(TRANSFER))
    stored = applied(events) | {"transfer_seq": 0, "transfer_bucket": 0}
    assert differences({key: fold.open[key]}, {key: stored}) == []
    wrong = stored | {"status": "completed"}
    [difference] = differences({key: fold.open[key]}, {key: wrong})
    assert (difference.field, difference.expected, difference.found) == ("status", '"debited"', '"completed"')
    assert isinstance(fold.open[key], Expected)
