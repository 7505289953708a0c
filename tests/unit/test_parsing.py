"""Parsing at the edge: every bad body becomes a typed error with a stable code."""

import json
from uuid import uuid4

import pytest

from cqrs_client.errors import InvalidMessage, MalformedMessage, UnknownMessageType
from cqrs_client.messaging.envelope import Delivery
from cqrs_contracts import Command, CreateCustomer, ErrorCode
from cqrs_shared.messaging.parsing import Catalogue

COMMANDS = Catalogue[Command](Command, ErrorCode.UNKNOWN_COMMAND)


def parse(body: bytes) -> object:
    return COMMANDS.parse(body)


@pytest.mark.parametrize("body", [b"not json", b"\xff\xfe", b"[1, 2]", b'"text"', b"{}", b'{"type": 7}'])
def test_malformed_bodies_are_malformed_message(body: bytes) -> None:
    with pytest.raises(MalformedMessage) as caught:
        parse(body)
    assert caught.value.info.code == ErrorCode.MALFORMED_MESSAGE


def test_unknown_type_is_unknown_command_and_lists_the_known_ones() -> None:
    with pytest.raises(UnknownMessageType) as caught:
        parse(b'{"type": "DeleteEverything"}')
    assert caught.value.info.code == ErrorCode.UNKNOWN_COMMAND
    assert "CreateCustomer" in caught.value.info.message


def test_invalid_fields_are_reported_per_field() -> None:
    body = json.dumps({"type": "CreateCustomer", "name": "", "locale": "nope_NOPE", "extra": 1}).encode()
    with pytest.raises(InvalidMessage) as caught:
        parse(body)
    fields = caught.value.info.fields
    assert caught.value.info.code == ErrorCode.VALIDATION_ERROR
    assert set(fields) == {"name", "locale", "extra"}
    assert "empty" in fields["name"]


def test_edit_without_anything_to_edit_is_invalid() -> None:
    body = json.dumps({"type": "EditCustomerDetails", "customer_id": str(uuid4())}).encode()
    with pytest.raises(InvalidMessage, match="invalid EditCustomerDetails") as caught:
        parse(body)
    assert "at least one" in caught.value.info.fields["_"]


def test_valid_command_parses_to_its_model() -> None:
    command = parse(b'{"type": "CreateCustomer", "name": "Ada", "locale": "en-gb"}')
    assert command == CreateCustomer(name="Ada", locale="en-GB")


def _delivery(message_id: str | None) -> Delivery:
    return Delivery(
        body=b"{}",
        message_id=message_id,
        type="CreateCustomer",
        correlation_id=None,
        reply_to=None,
        traceparent=None,
        causation_id=None,
        routing_key=None,
    )


@pytest.mark.parametrize("message_id", [None, "", "not-a-uuid"])
def test_a_command_without_a_uuid_message_id_is_malformed(message_id: str | None) -> None:
    with pytest.raises(MalformedMessage, match="idempotency key"):
        _delivery(message_id).metadata()


def test_metadata_defaults_correlation_to_the_message_id() -> None:
    message_id = str(uuid4())
    assert _delivery(message_id).metadata().correlation_id == message_id
