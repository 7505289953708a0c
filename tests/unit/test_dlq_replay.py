"""Where `cqrs dlq replay` may send a dead letter (dlq.refusal), from plain values (no broker).

A replay publishes with the operator's rights: a dead letter goes back only to the queue whose
dead-letter queue holds it, and only if its body is a message that queue's consumer runs (issue 20).
"""

import json
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from aio_pika.abc import FieldValue, HeadersType

from cqrs_client.messaging.topology import (
    COMMAND_QUEUE,
    EVENT_QUEUE,
    QUERY_QUEUE,
    STREAM_QUEUE,
    TRANSFER_QUEUE,
    dead_letter_queue,
    event_partition,
    retry_queue,
)
from cqrs_contracts import CreateCustomer, CustomerCreated, GetCustomer, ListStreams, ReadAll
from cqrs_shared.messaging.dlq import MAX_JUDGED_BYTES, DeadLetter, dead_letter_queues, refusal
from tests.builders import envelope

COMMAND = CreateCustomer(name="Ada", locale="en").model_dump_json().encode()
EVENT = envelope(CustomerCreated(customer_id=uuid4(), name="Ada", locale="en"), 1).model_dump_json().encode()
OURS: HeadersType = {"x-error-code": "internal_error", "x-original-queue": COMMAND_QUEUE}


def letter(
    body: bytes, headers: HeadersType, *, queue: str = COMMAND_QUEUE, type_: str | None = None
) -> DeadLetter:
    return DeadLetter(
        queue=dead_letter_queue(queue),
        body=body,
        headers=headers,
        message_id=str(uuid4()),
        type=type_,
        correlation_id=None,
        reply_to=None,
        content_type="application/json",
        timestamp=datetime(2026, 1, 2, tzinfo=UTC),
    )


def died(queue: str | bytes, reason: str = "expired") -> FieldValue:
    """An x-death as the broker writes it: the most recent death first."""
    death: dict[str, FieldValue] = {
        "queue": queue,
        "reason": reason,
        "count": 1,
        "exchange": "",
        "routing-keys": ["k"],
    }
    return [death]


def test_a_command_our_service_dead_lettered_goes_back_to_the_command_queue() -> None:
    assert refusal(letter(COMMAND, OURS, type_="CreateCustomer")) is None
    assert letter(COMMAND, OURS).original_queue == COMMAND_QUEUE


def test_a_dead_letter_without_any_origin_header_goes_back_to_the_queue_of_its_dead_letter_queue() -> None:
    assert refusal(letter(COMMAND, {})) is None


def test_the_broker_x_death_decides_and_a_forged_x_original_queue_is_ignored() -> None:
    forged: HeadersType = {"x-original-queue": EVENT_QUEUE, "x-death": died(COMMAND_QUEUE)}
    assert letter(COMMAND, forged).original_queue == COMMAND_QUEUE
    assert refusal(letter(COMMAND, forged)) is None
    # The event that forged header wants into the event queue is no command: it stays.
    why = refusal(letter(EVENT, forged, type_="CustomerCreated"))
    assert why == 'not a message of command-service.commands: the body names no "type"'


def test_an_x_death_of_another_queue_than_the_dead_letter_queue_says_is_refused() -> None:
    why = refusal(letter(EVENT, {"x-death": died(b"query-service.events")}))
    assert why is not None
    assert "the broker's x-death says it came from 'query-service.events'" in why
    assert "go back only to command-service.commands" in why


def test_a_message_dead_lettered_after_its_retries_goes_back_to_the_queue_its_retry_queue_serves() -> None:
    # A service dead-letters a copy with the headers it received: the retry queue's expiry among them.
    retried: HeadersType = {**OURS, "x-death": died(retry_queue(COMMAND_QUEUE, 0.2))}
    assert letter(COMMAND, retried).original_queue == COMMAND_QUEUE
    assert refusal(letter(COMMAND, retried)) is None
    partition = event_partition(3)
    assert refusal(letter(EVENT, {"x-death": died(retry_queue(partition, 4))}, queue=partition)) is None


@pytest.mark.parametrize(
    "deaths", ["query-service.events", [], [{"reason": "expired"}], [{"queue": 7}], ["command-service"]]
)
def test_an_x_death_the_broker_would_not_write_is_refused(deaths: object) -> None:
    why = refusal(letter(COMMAND, {**OURS, "x-death": deaths}))  # type: ignore[dict-item]
    assert why == "its x-death header is not the broker's (a list of tables, the first naming a queue)"


def test_our_header_naming_another_queue_than_the_dead_letter_queue_is_refused() -> None:
    why = refusal(letter(EVENT, {**OURS, "x-original-queue": EVENT_QUEUE}))
    assert why is not None
    assert why.startswith("its x-original-queue header says it came from 'query-service.events'")


@pytest.mark.parametrize(
    ("queue", "body", "type_"),
    [
        (COMMAND_QUEUE, GetCustomer(customer_id=uuid4()).model_dump_json().encode(), "CreateCustomer"),
        (EVENT_QUEUE, json.dumps({"event": json.loads(COMMAND)}).encode(), "CustomerCreated"),
        (QUERY_QUEUE, COMMAND, "GetCustomer"),
        (STREAM_QUEUE, GetCustomer(customer_id=uuid4()).model_dump_json().encode(), "ListStreams"),
    ],
    ids=["query-as-command", "command-as-event", "command-as-query", "query-as-stream-read"],
)
def test_a_body_that_is_no_message_of_its_queue_is_refused_whatever_its_type_property_says(
    queue: str, body: bytes, type_: str
) -> None:
    why = refusal(letter(body, {"x-original-queue": queue}, queue=queue, type_=type_))
    assert why is not None
    assert why.endswith(f"not a message {queue} takes")


def test_every_kind_of_message_goes_back_to_its_own_queue() -> None:
    stream_read = ListStreams().model_dump_json().encode()
    query = GetCustomer(customer_id=uuid4()).model_dump_json().encode()
    assert refusal(letter(stream_read, {}, queue=STREAM_QUEUE, type_="ListStreams")) is None
    assert refusal(letter(query, {}, queue=QUERY_QUEUE, type_="GetCustomer")) is None
    assert refusal(letter(EVENT, {}, queue=EVENT_QUEUE, type_="CustomerCreated")) is None
    assert refusal(letter(EVENT, {}, queue=event_partition(0))) is None
    read_all = ReadAll().model_dump_json().encode()
    assert refusal(letter(read_all, {}, queue=STREAM_QUEUE, type_="ReadAll")) is None


def test_the_transfer_process_managers_dead_letters_are_known_and_go_back_to_its_queue() -> None:
    """command-service.transfers takes event envelopes, as the query service's event queue does."""
    assert dead_letter_queues(TRANSFER_QUEUE) == [dead_letter_queue(TRANSFER_QUEUE)]
    assert dead_letter_queue(TRANSFER_QUEUE) in dead_letter_queues(None)
    assert refusal(letter(EVENT, {}, queue=TRANSFER_QUEUE, type_="CustomerCreated")) is None
    why = refusal(letter(COMMAND, {}, queue=TRANSFER_QUEUE))
    assert why is not None
    assert why.startswith(f'not a message of {TRANSFER_QUEUE}: the body names no "type" in its "event"')


def test_a_type_property_that_names_another_message_than_the_body_is_refused() -> None:
    why = refusal(letter(COMMAND, OURS, type_="Withdraw"))
    assert why == "the body is a 'CreateCustomer', but its type property says 'Withdraw'"


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"\x00\x01garbage", "body is not JSON"),
        (b"[]", 'the body names no "type"'),
        (b'{"type": 7}', 'the body names no "type"'),
        (b"[" * 100_000 + b"]" * 100_000, "body nests too deep to read"),
        (b'{"type": "CreateCustomer", "n": ' + b"1" * 5000 + b"}", "Exceeds the limit"),
        (b" " * (MAX_JUDGED_BYTES + 1), f"no service takes {MAX_JUDGED_BYTES}+"),
    ],
    ids=["not-json", "no-object", "no-string-type", "deep", "huge-integer", "too-large"],
)
def test_a_body_that_cannot_be_read_is_refused_without_raising(body: bytes, said: str) -> None:
    why = refusal(letter(body, OURS))
    assert why is not None
    assert why.startswith("not a message of command-service.commands: ")
    assert said in why


def test_an_event_is_judged_by_the_type_inside_its_envelope() -> None:
    flat = json.dumps({"type": "CustomerCreated"}).encode()
    assert refusal(letter(flat, {}, queue=EVENT_QUEUE)) == (
        'not a message of query-service.events: the body names no "type" in its "event"'
    )


def test_a_queue_that_is_no_dead_letter_queue_of_the_pair_is_refused() -> None:
    stray = DeadLetter("elsewhere", COMMAND, {}, None, None, None, None, None, None)
    assert refusal(stray) == "elsewhere is not a dead-letter queue of the pair"
