"""The messages of the AsyncAPI document: which models travel where, and each message object."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from pydantic import BaseModel

from cqrs_client.messaging.envelope import CONTENT_TYPE
from cqrs_contracts.base import Contract, result_of
from cqrs_contracts.commands import Command
from cqrs_contracts.events import SCHEMA_KEY, Event, EventEnvelope, routing_key
from cqrs_contracts.queries import (
    ListStreams,
    Query,
    ReadAll,
    ReadStream,
)
from cqrs_contracts.replies import CommandAccepted, CommandRejected, QueryFailed, QueryOk
from cqrs_shared.asyncapi.headers import dead_letter_headers, headers
from cqrs_shared.asyncapi.schemas import SCHEMAS, JsonSchema
from cqrs_shared.messaging.parsing import members

Kind = Literal["command", "event", "query", "reply"]
AMQP_BINDING = "0.3.0"


# What each query answers with (in QueryOk.result): each query's Answered[...] in the contracts.
def _answers(queries: Sequence[type[BaseModel]]) -> Mapping[type[Contract], type[Contract]]:
    paired: dict[type[Contract], type[Contract]] = {}
    for model in queries:
        answer: type[Contract] | None = result_of(model)
        if answer is None or not issubclass(model, Contract):
            raise TypeError(f"{model.__name__} names no answer (Answered[...] in the contracts)")
        paired[model] = answer
    return paired


QUERY_RESULTS = _answers(members(Query))
# What the command side's stream queue answers with.
STREAM_RESULTS = _answers([ReadStream, ListStreams, ReadAll])


@dataclass(frozen=True)
class Message:
    """One message of the API: its name, the model that names it, the model of its body, its kind."""

    name: str
    model: type[Contract]
    body: type[Contract]
    kind: Kind

    @property
    def version(self) -> int:
        """The schema version sent in its ``schema_version`` header: an event's own, else its body's."""
        return self.model.SCHEMA_VERSION if self.kind == "event" else self.body.SCHEMA_VERSION

    @property
    def type(self) -> str:
        """The AMQP ``type`` property the pair sends it with."""
        if self.kind == "reply":
            return f"reply.{self.body.model_fields['status'].default}"
        return str(self.model.model_fields["type"].default)


def _contracts(union: Any) -> list[type[Contract]]:
    return [cast(type[Contract], model) for model in members(union)]


def commands() -> list[Message]:
    return [Message(model.__name__, model, model, "command") for model in _contracts(Command)]


def events() -> list[Message]:
    return [Message(model.__name__, model, EventEnvelope, "event") for model in _contracts(Event)]


def queries() -> list[Message]:
    return [Message(model.__name__, model, model, "query") for model in [*QUERY_RESULTS, *STREAM_RESULTS]]


def ok_reply(result: type[Contract]) -> Message:
    return Message(f"QueryOk.{result.__name__}", result, QueryOk[result], "reply")  # type: ignore[valid-type]


def answer_of(query: Message) -> str:
    """The name of the reply message that answers ``query`` when it succeeds."""
    return ok_reply({**QUERY_RESULTS, **STREAM_RESULTS}[query.model]).name


def replies() -> list[Message]:
    results = dict.fromkeys([*QUERY_RESULTS.values(), *STREAM_RESULTS.values()])
    fixed = [
        Message(model.__name__, model, model, "reply")
        for model in (CommandAccepted, CommandRejected, QueryFailed)
    ]
    return fixed + [ok_reply(result) for result in results]


def ref(*path: str) -> JsonSchema:
    return {"$ref": "#/" + "/".join(path)}


def amqp(**binding: Any) -> JsonSchema:
    """AMQP bindings (version 0.3.0) of a channel, an operation or a message."""
    return {"amqp": binding | {"bindingVersion": AMQP_BINDING}}


def _payload(message: Message, body_ref: str, schemas: JsonSchema) -> JsonSchema:
    """The body's schema. An event's is the envelope with that one event inside, and the event's
    schema version in ``schema_version`` where it is not 1 (events.py writes it so)."""
    if message.kind != "event":
        return {"$ref": body_ref}
    envelope = dict(schemas[body_ref.removeprefix(SCHEMAS)])
    properties = {**envelope["properties"], "event": {"$ref": SCHEMAS + message.name}}
    required = list(envelope["required"])
    if message.version != 1:
        properties[SCHEMA_KEY] = {"const": message.version, "description": "the event's schema version"}
        required.append(SCHEMA_KEY)
    return {**envelope, "properties": properties, "required": required}


def versioned_envelope(schemas: JsonSchema) -> JsonSchema:
    """The EventEnvelope schema (as in StreamEvents) with the ``schema_version`` its serializer adds."""
    envelope = schemas[EventEnvelope.__name__]
    version = {"type": "integer", "minimum": 2, "description": "the event's schema version; absent: 1"}
    properties = {**envelope["properties"], SCHEMA_KEY: version}
    return schemas | {EventEnvelope.__name__: envelope | {"properties": properties}}


def _extensions(message: Message) -> JsonSchema:
    """``x-schema-version`` (read by the compatibility check) and, for a topic, ``x-routing-key``."""
    found: JsonSchema = {"x-schema-version": message.version}
    if message.kind == "command":
        found["x-routing-key"] = message.type
    if message.kind == "event":
        found["x-routing-key"] = routing_key(message.type)
    return found


def _described(model: type[Contract]) -> JsonSchema:
    """The model's docstring: its first paragraph as summary, all of it as description."""
    doc = model.__doc__ or ""
    paragraphs = [" ".join(part.split()) for part in doc.split("\n\n") if part.strip()]
    if not paragraphs:
        return {}
    return {"summary": paragraphs[0], "description": "\n\n".join(paragraphs)}


def message_object(message: Message, body_ref: str, schemas: JsonSchema) -> JsonSchema:
    """The AsyncAPI message: payload, headers (with the schema version), correlation id, bindings."""
    return {
        "name": message.name,
        "title": message.name,
        "contentType": CONTENT_TYPE,
        "payload": _payload(message, body_ref, schemas),
        "headers": headers(message.kind, message.type, message.version),
        "correlationId": ref("components", "correlationIds", "correlationId"),
        "bindings": amqp(messageType=message.type),
        **_described(message.model),
        **_extensions(message),
    }


def dead_letter_object(queues: list[str]) -> JsonSchema:
    return {
        "name": "DeadLetter",
        "title": "DeadLetter",
        "summary": "The message as it came, body and properties unchanged, the reason added to its headers.",
        "payload": {"description": "the original body, whatever it was"},
        "headers": dead_letter_headers(queues),
    }
