"""Projections are pure: an event becomes one version-gated document change."""

from datetime import UTC, datetime
from uuid import uuid4

from cqrs_shared.contracts import (
    CustomerCreated,
    CustomerDetailsEdited,
    CustomerMadePreferred,
    Event,
    EventEnvelope,
)
from query_service.projections import CUSTOMERS, fold_name, project

ID = uuid4()
AT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def envelope(event: Event, version: int) -> EventEnvelope:
    return EventEnvelope(
        event_id=uuid4(), stream_type="customer", stream_id=ID, version=version, occurred_at=AT, event=event
    )


def test_created_sets_every_field_and_the_folded_name() -> None:
    change = project(envelope(CustomerCreated(customer_id=ID, name="Ada LOVELACE", locale="en-GB"), 1))
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
    change = project(envelope(CustomerMadePreferred(customer_id=ID), 2))
    assert change.fields == {"is_preferred": True, "updated_at": AT}
    assert change.version == 2


def test_edit_refolds_the_name() -> None:
    change = project(envelope(CustomerDetailsEdited(customer_id=ID, name="Straße", locale="de"), 3))
    assert change.fields["name_folded"] == "strasse"


def test_fold_name_ignores_case_and_surrounding_space() -> None:
    assert fold_name("  GRACE Hopper ") == fold_name("grace hopper")
