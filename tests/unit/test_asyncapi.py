"""The AsyncAPI document: committed as generated, and saying what the code does."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_type_hints

import pytest

from command_service.routes import ROUTES
from cqrs_client.messaging import topology
from cqrs_contracts import ErrorCode, GetProjectionStatus, RebuildReadModel, VerifyStream
from cqrs_shared.asyncapi import document, render
from cqrs_shared.asyncapi.messages import QUERY_RESULTS
from cqrs_shared.messaging.access import VHOST
from query_service.operations.answers import Operations
from query_service.queries import HANDLERS

DOCUMENT = Path(__file__).parents[2] / "docs" / "asyncapi.json"


def test_the_committed_document_is_the_generated_one() -> None:
    committed = DOCUMENT.read_text(encoding="utf-8") if DOCUMENT.exists() else ""
    if committed != render(document()):
        pytest.fail(
            "docs/asyncapi.json is not what the contracts generate: run `make asyncapi`", pytrace=False
        )


def test_the_document_is_the_same_each_time() -> None:
    assert render(document()) == render(document())


def test_every_message_carries_its_schema_version_in_its_headers() -> None:
    for name, message in document()["components"]["messages"].items():
        if name != "DeadLetter":
            header = message["headers"]["properties"]["schema_version"]["const"]
            assert message["x-schema-version"] == header, name


def test_every_command_the_command_service_routes_is_in_the_document() -> None:
    commands = document()["channels"]["commands"]["messages"]
    assert {model.__name__ for model in ROUTES} == set(commands)


def test_every_query_answers_with_what_its_handler_returns() -> None:
    for query, handler in HANDLERS.items():
        assert get_type_hints(handler)["return"] is QUERY_RESULTS[query], query.__name__
    operations: dict[type, Callable[..., object]] = {
        RebuildReadModel: Operations.rebuild,
        GetProjectionStatus: Operations.status,
    }
    for query, method in {**operations, VerifyStream: Operations.verify}.items():
        assert get_type_hints(method)["return"] is QUERY_RESULTS[query], query.__name__


def test_channels_are_named_by_the_topology() -> None:
    channels = document()["channels"]
    exchange = {
        key: channel["bindings"]["amqp"].get("exchange", {}).get("name") for key, channel in channels.items()
    }
    assert exchange["commands"] == topology.COMMANDS_EXCHANGE
    assert exchange["events"] == topology.EVENTS_EXCHANGE
    assert exchange["queries"] == topology.QUERIES_EXCHANGE
    assert exchange["deadLetters"] == topology.DEAD_LETTER_EXCHANGE
    assert channels["streams"]["address"] == topology.STREAM_QUEUE
    assert channels["replies"]["address"] == topology.DIRECT_REPLY_TO


def test_every_error_code_is_described() -> None:
    schema: dict[str, Any] = document()["components"]["schemas"]["ErrorCode"]
    assert set(schema["x-enum-descriptions"]) == {code.value for code in ErrorCode}


def test_an_event_message_is_the_envelope_around_that_event() -> None:
    message = document()["components"]["messages"]["CustomerCreated"]
    assert message["payload"]["properties"]["event"] == {"$ref": "#/components/schemas/CustomerCreated"}
    assert message["x-routing-key"] == "customer.created"
    assert json.dumps(message["payload"]).count("MoneyDeposited") == 0


def test_the_servers_and_every_channel_name_the_pairs_vhost() -> None:
    doc = document()
    assert {name: (server["protocol"], server["pathname"]) for name, server in doc["servers"].items()} == {
        "local": ("amqp", f"/{VHOST}"),
        "production": ("amqps", f"/{VHOST}"),
    }
    assert doc["servers"]["local"]["host"] == "127.0.0.1:5672"
    for key, channel in doc["channels"].items():
        binding = channel["bindings"]["amqp"]
        assert binding.get("exchange", binding.get("queue"))["vhost"] == VHOST, key
    schemes = doc["components"]["securitySchemes"]
    for server in doc["servers"].values():
        (reference,) = server["security"]
        assert reference["$ref"].rsplit("/", 1)[-1] in schemes


def test_the_document_names_the_transfer_process_managers_queue_and_the_catch_up_read() -> None:
    doc = document()
    advance = doc["operations"]["advanceTransfer"]
    taken = {message["$ref"].rsplit("/", 1)[-1] for message in advance["messages"]}
    assert taken == {
        "TransferRequested",
        "TransferDebited",
        "TransferCompleted",
        "TransferFailed",
        "MoneyDeposited",
        "MoneyWithdrawn",
    }
    assert topology.TRANSFER_QUEUE in advance["summary"]
    assert topology.TRANSFER_QUEUE in doc["channels"]["deadLetters"]["parameters"]["queue"]["enum"]
    assert "ReadAll" in doc["channels"]["streams"]["messages"]
    [answer, _] = doc["operations"]["answerReadAll"]["reply"]["messages"]
    assert answer["$ref"].endswith("QueryOk.PositionedEvents")
    assert topology.STREAMS_EXCHANGE in doc["channels"]["streams"]["description"]
