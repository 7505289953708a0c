"""Hostile envelopes: frames pamqp could not read, headers, reply addresses, claims, deep JSON, logs."""

import json
import time
from unittest import mock
from uuid import uuid4

import pytest
from aio_pika.abc import AbstractIncomingMessage
from pamqp import frame

from cqrs_client.errors import MalformedMessage
from cqrs_client.messaging import tolerant_frames
from cqrs_client.messaging.envelope import Delivery
from cqrs_client.messaging.envelope import delivery as incoming
from cqrs_client.messaging.tolerant_frames import MAX_DEPTH, TOO_DEEP, UNREADABLE_TIMESTAMP
from cqrs_client.messaging.topology import POSITION_HEADER
from cqrs_client.redaction import redact
from cqrs_contracts import Command, ErrorCode
from cqrs_shared.messaging.parsing import Catalogue
from cqrs_shared.messaging.screening import screen
from cqrs_shared.observability.logs import MAX_LINE_CHARS, cut
from tests.hostile_frames import content_header

COMMANDS = Catalogue[Command](Command, ErrorCode.UNKNOWN_COMMAND)
CREATE = json.dumps({"type": "CreateCustomer", "name": "Ada", "locale": "en"}).encode()


@pytest.fixture(autouse=True)
def tolerant() -> None:
    tolerant_frames.install()


def properties(data: bytes) -> object:
    _, _, found = frame.unmarshal(data)
    return found.properties  # type: ignore[union-attr]


@pytest.mark.parametrize("seconds", [2**62, 2**64 - 1, 253402300800 * 1000 + 1])
def test_a_timestamp_past_year_9999_decodes_as_unreadable(seconds: int) -> None:
    found = properties(content_header(3, timestamp=seconds))
    assert found.timestamp == UNREADABLE_TIMESTAMP  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["message_id", "correlation_id", "reply_to", "message_type", "app_id"])
def test_a_property_that_is_not_utf8_decodes_with_replacement_characters(name: str) -> None:
    found = properties(content_header(3, bad_text_in=name))
    assert getattr(found, name) == "\ufffd" * 4


def test_a_header_key_that_is_not_utf8_decodes_with_replacement_characters() -> None:
    found = properties(content_header(3, bad_header_key=True))
    assert found.headers == {"\ufffd" * 4: "x"}  # type: ignore[attr-defined]


def test_headers_nested_thousands_deep_are_cut_at_the_depth_limit() -> None:
    found = properties(content_header(3, deep=5000))
    level = found.headers["deep"]  # type: ignore[attr-defined]
    depth = 1
    while isinstance(level, dict):
        level, depth = level["k"], depth + 1
    assert level == TOO_DEEP
    assert depth == MAX_DEPTH


def delivery(**given: object) -> Delivery:
    fields: dict[str, object] = {
        "body": CREATE,
        "message_id": str(uuid4()),
        "type": None,
        "correlation_id": None,
        "reply_to": None,
        "traceparent": None,
        "causation_id": None,
        "routing_key": None,
    }
    return Delivery(**(fields | given))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "reply_to", ["command-service.commands", "query-service.events.retry.1", "amq.rabbitmq.reply", "x"]
)
def test_a_reply_address_the_sender_chose_is_forbidden(reply_to: str) -> None:
    problem = screen(delivery(reply_to=reply_to), max_bytes=65_536)
    assert problem is not None
    assert problem.code == ErrorCode.FORBIDDEN


@pytest.mark.parametrize("reply_to", [None, "amq.rabbitmq.reply-to.g1h2AA==.abc", "amq.gen-Xy12"])
def test_direct_reply_to_and_broker_named_queues_are_reply_addresses(reply_to: str | None) -> None:
    assert screen(delivery(reply_to=reply_to), max_bytes=65_536) is None


def test_an_unreadable_timestamp_is_malformed() -> None:
    problem = screen(delivery(timestamp=UNREADABLE_TIMESTAMP), max_bytes=65_536)
    assert problem is not None
    assert problem.code == ErrorCode.MALFORMED_MESSAGE


def test_a_body_routed_or_typed_as_another_command_is_malformed() -> None:
    withdraw = json.dumps({"type": "Withdraw", "account_id": str(uuid4()), "amount": "1.00"}).encode()
    with pytest.raises(MalformedMessage, match="the body is a Withdraw"):
        COMMANDS.parse(withdraw, claimed=["CreateCustomer", "CreateCustomer"])
    assert COMMANDS.parse(withdraw, claimed=[None, "Withdraw"])


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_json_nested_too_deep_is_malformed_at_once(depth: int) -> None:
    body = b'{"type": "CreateCustomer", "name": ' + b"[" * depth + b"]" * depth + b"}"
    with pytest.raises(MalformedMessage, match="nests too deep"):
        COMMANDS.parse(body)


def test_redaction_is_linear_on_dotted_text_and_lines_are_cut_first() -> None:
    dotted = "a." * 60_000  # 120 KB: ~38 s with the unbounded pattern
    started = time.perf_counter()
    redact(cut(dotted))
    redact(dotted)
    assert time.perf_counter() - started < 2.0
    assert len(cut(dotted)) < MAX_LINE_CHARS + 40
    assert redact("amqp://user:s3cret@host/vhost") == "amqp://user:***@host/vhost"


def test_headers_pamqp_decodes_but_cannot_encode_are_made_to_fit_a_copy() -> None:
    found = properties(content_header(3, small_negative=True, properties={"headers": {"keep": "me"}}))
    headers = found.headers  # type: ignore[attr-defined]
    assert headers["small-negative"] == -31
    fitted = tolerant_frames.encodable(headers)
    assert fitted == {"keep": "me", "small-negative": "-31"}
    assert tolerant_frames.encodable({"keep": "me"}) == {"keep": "me"}


def test_an_integer_longer_than_python_reads_is_malformed() -> None:
    with pytest.raises(MalformedMessage, match="not JSON this service reads"):
        COMMANDS.parse(b'{"type": "CreateCustomer", "name": ' + b"9" * 5000 + b"}")


@pytest.mark.parametrize(
    ("value", "read"),
    [(42, 42), (2**63 - 1, 2**63 - 1), (0, None), (-1, None), (2**63, None), (True, None), ("42", None),
     (b"42", None), (4.2, None), ({"n": 1}, None)],
)  # fmt: skip
def test_an_events_position_header_is_read_only_as_a_positive_63_bit_integer(
    value: object, read: int | None
) -> None:
    properties = dict.fromkeys(("message_id", "type", "correlation_id", "reply_to", "timestamp", "user_id"))
    message = mock.Mock(
        AbstractIncomingMessage, body=b"{}", exchange="cqrs.events", routing_key="x", **properties
    )
    message.headers = {POSITION_HEADER: value}
    assert incoming(message).position == read
