"""The metadata of each message in the AsyncAPI document: AMQP properties and headers in one schema.

AsyncAPI has one ``headers`` schema per message; AMQP splits metadata into properties (message_id,
type, correlation_id, reply_to, timestamp, content_type, user_id) and the headers table
(schema_version, traceparent, causation_id). Both are described here, each saying which it is, so
that ``$message.header#/correlation_id`` and ``#/reply_to`` point somewhere (messaging/envelope.py).
"""

from cqrs_client.messaging.envelope import CONTENT_TYPE
from cqrs_shared.asyncapi.schemas import SCHEMAS, JsonSchema

_COMMON: dict[str, JsonSchema] = {
    "content_type": {"const": CONTENT_TYPE, "description": "AMQP property: the body is JSON (UTF-8)"},
    "correlation_id": {
        "type": "string",
        "description": "AMQP property: names the conversation; a reply echoes it (default: the message_id)",
    },
    "timestamp": {
        "type": "integer",
        "description": "AMQP property: when it was sent, seconds since 1970 (UTC)",
    },
    "user_id": {
        "type": "string",
        "description": "AMQP property: the sender's RabbitMQ user, which the broker checks; the command "
        "service grants commands by it (CQRS_ALLOWED_COMMANDS). A header cqrs-sender naming anyone else "
        "counts for nothing: it is the services' own, on the retries and dead letters they publish",
    },
    "traceparent": {
        "type": "string",
        "pattern": "^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
        "description": "AMQP header: W3C trace context, continued by replies and events",
    },
    "causation_id": {
        "type": "string",
        "description": "AMQP header: the message_id of the message that caused it",
    },
}
_REPLY_TO: JsonSchema = {
    "type": "string",
    "description": "AMQP property: the queue the reply goes to (amq.rabbitmq.reply-to: direct reply-to); "
    "without it nothing is answered",
}
_PARTITION_KEY: JsonSchema = {
    "type": "string",
    "format": "uuid",
    "description": "AMQP header partition-key: the customer whose documents the event changes (an "
    "account's events: its customer); the consistent-hash exchange cqrs.events.partitioned routes by "
    "it, so that one customer's events reach one partition queue, in order",
}
_POSITION: JsonSchema = {
    "type": "integer",
    "minimum": 1,
    "description": "AMQP header position: the event's global position (gap-free, from 1, in commit "
    "order), the one ReadAll pages by; in a header, not the body, so that a reader of a release "
    "before positions reads the body as it did",
}
_WRITTEN = ["content_type", "correlation_id", "message_id", "schema_version", "timestamp", "type"]


def _message_id(kind: str) -> JsonSchema:
    if kind == "command":
        return {
            "type": "string",
            "format": "uuid",
            "description": "AMQP property: a UUID, the idempotency key (a retry with it gets the same reply)",
        }
    if kind == "query":
        return {"type": "string", "description": "AMQP property: any id (the sender's)"}
    return {
        "type": "string",
        "format": "uuid",
        "description": "AMQP property: a UUID (an event's is its event_id)",
    }


def _schema_version(version: int) -> JsonSchema:
    return {
        "const": version,
        "description": "AMQP header: the version of this message's schema (SCHEMA_VERSION of its model); "
        'absent means 1, a number as text ("1") is read as the number; a receiver refuses a version it '
        "cannot read (unsupported_schema_version)",
    }


def headers(kind: str, type_: str, version: int) -> JsonSchema:
    """The properties and headers of a message of ``kind`` (command, query, event, reply)."""
    properties = {
        **_COMMON,
        "message_id": _message_id(kind),
        "schema_version": _schema_version(version),
        "type": {"const": type_, "description": "AMQP property: the message type"},
    }
    if kind in ("command", "query"):
        properties["reply_to"] = _REPLY_TO
    if kind == "event":
        properties["partition-key"] = _PARTITION_KEY
        properties["position"] = _POSITION
    required = {"command": ["message_id"], "query": []}.get(kind, _WRITTEN)
    return {"type": "object", "properties": properties, "required": required}


def dead_letter_headers(queues: list[str]) -> JsonSchema:
    """A dead letter is the message as it came (properties and headers kept) plus the reason."""
    reason: dict[str, JsonSchema] = {
        "x-error-code": {"$ref": SCHEMAS + "ErrorCode"},
        "x-error-message": {"type": "string", "maxLength": 1000, "description": "for people"},
        "x-original-queue": {
            "type": "string",
            "description": f"the queue that could not handle it: {', '.join(queues)}",
        },
        "x-original-routing-key": {"type": "string"},
    }
    return {"type": "object", "properties": {**_COMMON, **reason}, "required": sorted(reason)}
