"""Convert between our Metadata + body and AMQP messages: properties and headers carry metadata."""

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, DeliveryMode, HeadersType

from cqrs_shared.contracts.metadata import SCHEMA_VERSION, Metadata
from cqrs_shared.errors import MalformedMessage, UnsupportedSchema
from cqrs_shared.tracing import child_traceparent

CONTENT_TYPE = "application/json"


def outgoing(
    body: bytes,
    metadata: Metadata,
    *,
    reply_to: str | None = None,
    persistent: bool = True,
    user_id: str | None = None,
) -> aio_pika.Message:
    """An AMQP message carrying ``metadata`` in its properties and headers.

    ``user_id`` names the sender; RabbitMQ refuses a message whose user_id is not the user its
    connection logged in as, so a receiver can trust it (the command service's grants do).
    """
    headers: HeadersType = {"schema_version": metadata.schema_version}
    if metadata.causation_id is not None:
        headers["causation_id"] = metadata.causation_id
    if metadata.traceparent is not None:
        headers["traceparent"] = metadata.traceparent
    return aio_pika.Message(
        body,
        content_type=CONTENT_TYPE,
        message_id=str(metadata.message_id),
        type=metadata.type,
        correlation_id=metadata.correlation_id,
        timestamp=metadata.timestamp,
        headers=headers,
        reply_to=reply_to,
        user_id=user_id,
        delivery_mode=DeliveryMode.PERSISTENT if persistent else DeliveryMode.NOT_PERSISTENT,
    )


@dataclass(frozen=True)
class Delivery:
    """A received message as plain values: what a handler may see of AMQP."""

    body: bytes
    message_id: str | None
    type: str | None
    correlation_id: str | None
    reply_to: str | None
    traceparent: str | None
    causation_id: str | None
    routing_key: str | None
    timestamp: datetime | None = None
    schema_version: int | str = SCHEMA_VERSION
    user_id: str | None = None
    """The sender's RabbitMQ user, where it said (the broker checked it)."""

    def check_schema(self) -> None:
        """Raise UnsupportedSchema unless the schema_version header is a positive integer.

        A message without the header is taken to be in version 1. Whether this code reads that
        version of the message's type is for its catalogue to say (messaging/parsing.py).
        """
        if isinstance(self.schema_version, str) or self.schema_version < 1:
            raise UnsupportedSchema(
                f"schema_version {self.schema_version!r} is not supported: it must be a positive integer"
            )

    def metadata(self) -> Metadata:
        """Validated metadata; a missing or non-UUID message_id is a malformed message."""
        self.check_schema()
        try:
            message_id = UUID(self.message_id or "")
        except ValueError:
            raise MalformedMessage(
                f"message_id must be a UUID (it is the idempotency key), got {self.message_id!r}"
            ) from None
        return Metadata(
            message_id=message_id,
            type=self.type or "",
            schema_version=int(self.schema_version),
            correlation_id=self.correlation_id or str(message_id),
            causation_id=self.causation_id,
            timestamp=self.timestamp or datetime.now(UTC),
            traceparent=self.traceparent,
        )

    def reply_metadata(self, type_: str, schema_version: int = SCHEMA_VERSION) -> Metadata:
        """Metadata of the reply to this message: correlation id echoed, trace continued."""
        return Metadata(
            type=type_,
            schema_version=schema_version,
            correlation_id=self.correlation_id or "",
            causation_id=self.message_id,
            traceparent=child_traceparent(self.traceparent),
        )


def _header(message: AbstractIncomingMessage, name: str) -> str | None:
    value = (message.headers or {}).get(name)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


def _schema_version(message: AbstractIncomingMessage) -> int | str:
    """The schema_version header as an int where it is one (also "1" from clients that send text)."""
    value = (message.headers or {}).get("schema_version", SCHEMA_VERSION)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return value
    text = str(value)
    return int(text) if text.isdecimal() else text


def delivery(message: AbstractIncomingMessage) -> Delivery:
    return Delivery(
        body=message.body,
        message_id=message.message_id,
        type=message.type,
        correlation_id=message.correlation_id,
        reply_to=message.reply_to,
        traceparent=_header(message, "traceparent"),
        causation_id=_header(message, "causation_id"),
        routing_key=message.routing_key,
        timestamp=message.timestamp,
        schema_version=_schema_version(message),
        user_id=message.user_id,
    )
