"""Schema versions, upcasters and tolerant readers (contracts/evolution.py, events.py): pure."""

import json
from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest
from pydantic import ValidationError

from cqrs_client.errors import UnsupportedSchema
from cqrs_contracts import CustomerView, Deposit, EventEnvelope, MoneyDeposited, StreamList
from cqrs_contracts.base import ErrorCode
from cqrs_contracts.events import unreadable
from cqrs_contracts.evolution import NewerSchema, upcast
from cqrs_shared.messaging.parsing import Catalogue


def _v1_deposit() -> dict[str, object]:
    """A MoneyDeposited as version 1 wrote it: no reference."""
    return {
        "event_id": str(uuid4()),
        "stream_type": "account",
        "stream_id": str(uuid4()),
        "version": 2,
        "occurred_at": "2026-01-02T03:04:05Z",
        "event": {
            "type": "MoneyDeposited",
            "account_id": str(uuid4()),
            "customer_id": str(uuid4()),
            "currency": "EUR",
            "amount": "5.00",
            "balance": "5.00",
        },
    }


def test_a_version_1_event_is_read_through_its_upcaster() -> None:
    envelope = EventEnvelope.model_validate(_v1_deposit())
    assert isinstance(envelope.event, MoneyDeposited)
    assert envelope.event.reference == ""
    assert envelope.schema_version == 2


def test_an_envelope_says_its_events_version_unless_it_is_1() -> None:
    deposit = EventEnvelope.model_validate(_v1_deposit())
    assert json.loads(deposit.model_dump_json())["schema_version"] == 2
    opened = {**_v1_deposit(), "event": {"type": "CustomerMadePreferred", "customer_id": str(uuid4())}}
    assert "schema_version" not in json.loads(EventEnvelope.model_validate(opened).model_dump_json())


def test_what_an_envelope_writes_it_reads_back_the_same() -> None:
    written = EventEnvelope.model_validate(_v1_deposit())
    assert EventEnvelope.model_validate_json(written.model_dump_json()) == written


def test_event_readers_ignore_fields_they_do_not_know() -> None:
    body = _v1_deposit()
    body["event"] = {**body["event"], "reference": "rent", "channel": "mobile"}  # type: ignore[dict-item]
    body["schema_version"], body["region"] = 2, "eu"
    envelope = EventEnvelope.model_validate(body)
    assert isinstance(envelope.event, MoneyDeposited)
    assert envelope.event.reference == "rent"


def test_replies_and_views_ignore_fields_they_do_not_know() -> None:
    now = datetime.now(UTC).isoformat()
    view = {"id": str(uuid4()), "name": "Ada", "locale": "en", "is_preferred": False, "version": 1}
    view |= {"created_at": now, "updated_at": now, "accounts": [], "totals": {}, "loyalty": "gold"}
    assert CustomerView.model_validate(view).name == "Ada"


def test_commands_stay_strict() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Deposit.model_validate({"account_id": str(uuid4()), "amount": "1", "channel": "mobile"})


def test_an_event_newer_than_the_reader_is_refused_not_misread() -> None:
    body = {**_v1_deposit(), "schema_version": 3}
    assert unreadable(body) == "MoneyDeposited schema_version 3 is newer than this reader's 2"
    with pytest.raises(ValidationError, match="newer than this reader"):
        EventEnvelope.model_validate(body)


def test_an_event_type_the_reader_does_not_know_waits_for_a_newer_reader() -> None:
    body = {**_v1_deposit(), "event": {"type": "AccountClosed", "account_id": str(uuid4())}}
    assert unreadable(body) == "event type 'AccountClosed' is unknown to this reader"


def test_a_stream_type_the_reader_does_not_know_waits_for_a_newer_reader_and_is_skipped_in_a_list() -> None:
    """Stream types are an open set (docs/evolution.md): a new one is no reason to refuse a page."""
    body = {**_v1_deposit(), "stream_type": "ledger"}
    assert unreadable(body) == "stream type 'ledger' is unknown to this reader"
    known = {"stream_type": "account", "stream_id": str(uuid4()), "version": 2}
    page = StreamList.model_validate(
        {"streams": [{**known, "stream_type": "ledger"}, known], "next": None, "total": 2}
    )
    assert [ref.stream_type for ref in page.streams] == ["account"]


def test_upcasting_steps_up_one_version_at_a_time() -> None:
    data = {"type": "MoneyDeposited", "amount": "1"}
    assert upcast(data, 1, {"MoneyDeposited": 2}) == {
        "type": "MoneyDeposited",
        "amount": "1",
        "reference": "",
    }
    assert upcast(data, 2, {"MoneyDeposited": 2}) == data
    with pytest.raises(NewerSchema):
        upcast(data, 3, {"MoneyDeposited": 2})
    with pytest.raises(ValueError, match="can no longer be read"):
        upcast({"type": "MoneyWithdrawn"}, 1, {"MoneyWithdrawn": 3})
    with pytest.raises(ValueError, match="positive integer"):
        upcast(data, 0, {"MoneyDeposited": 2})


def test_a_command_in_a_schema_version_the_service_does_not_read_is_refused() -> None:
    commands = Catalogue[Deposit](Deposit, ErrorCode.UNKNOWN_COMMAND)
    body = json.dumps({"type": "Deposit", "account_id": str(uuid4()), "amount": "1"}).encode()
    assert commands.parse(body, 1).amount == Decimal(1)
    with pytest.raises(UnsupportedSchema, match="newer than this reader's 1"):
        commands.parse(body, 2)
