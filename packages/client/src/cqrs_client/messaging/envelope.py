"""Convert between our Metadata + body and AMQP messages: properties and headers carry metadata."""

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, DeliveryMode, HeadersType

from cqrs_client.errors import MalformedMessage, UnsupportedSchema
from cqrs_client.messaging.senders import sender
from cqrs_client.messaging.topology import POSITION_HEADER
from cqrs_client.tracing import child_traceparent
from cqrs_contracts.metadata import SCHEMA_VERSION, Metadata

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
    """The RabbitMQ user that published it, where it said (the broker checked it); on a retry or a
    dead letter, the service that copied it (``sender`` names who first sent it)."""
    header_problem: str | None = None
    """Why a header could not be read (too long), for the screen to refuse the message."""
    exchange: str = ""
    """The exchange it was published to (a retried or replayed message: another one)."""
    sender: str | None = None
    """Who sent it: its user_id, or the sender a copy this service made names (senders.py)."""
    position: int | None = None
    """An event's global position (its ``position`` header), where it is a positive 63-bit integer."""

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


# The headers read here are short by nature (a traceparent has 55 characters, an id 36); a longer one
# is refused by the screen (screening.py) before any parsing, logging or arithmetic sees it. A
# schema_version of 4,301 digits or more made int() raise before the consumer's protected block.
MAX_HEADER_CHARS = 256
MAX_VERSION_DIGITS = 9


@dataclass
class _Headers:
    """The headers a Delivery reads, each bounded; the first problem found, if any."""

    values: HeadersType
    problem: str | None = None

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        if isinstance(value, bytes | bytearray):
            value = bytes(value[: MAX_HEADER_CHARS + 1]).decode("utf-8", "replace")
        if not isinstance(value, str):
            return None
        return self._bounded(name, value, MAX_HEADER_CHARS)

    def _bounded(self, name: str, value: str, limit: int) -> str | None:
        if len(value) <= limit:
            return value
        self.problem = self.problem or f"header {name} has {len(value)} characters; at most {limit} are read"
        return None

    def position(self) -> int | None:
        """The ``position`` header where it is an integer from 1 to 2**63 - 1; else None (the
        event is then read as one without a position: its reader's checkpoint waits)."""
        value = self.values.get(POSITION_HEADER)
        if isinstance(value, bool) or not isinstance(value, int):
            return None
        return value if 1 <= value < 2**63 else None

    def schema_version(self) -> int | str:
        """As an int where it is one (also "1" from clients that send text); else its text, bounded."""
        value = self.values.get("schema_version", SCHEMA_VERSION)
        if isinstance(value, bool):
            return str(value)
        if isinstance(value, int):
            return value if value.bit_length() < 32 else "a number out of range"
        if not isinstance(value, str | bytes | bytearray):
            return f"a {type(value).__name__}"  # a float, a table, a list: no version
        text = self.text("schema_version") if not isinstance(value, str) else value
        text = self._bounded("schema_version", text or "", MAX_VERSION_DIGITS)
        if text is None:
            return "(too long)"
        return int(text) if text.isdecimal() and text.isascii() else text


def delivery(message: AbstractIncomingMessage, publisher: str | None = None) -> Delivery:
    """The plain values of ``message``, received by the service that publishes as ``publisher``;
    never raises, whatever its properties and headers hold."""
    headers = _Headers(message.headers or {})
    schema_version = headers.schema_version()
    return Delivery(
        body=message.body,
        message_id=message.message_id,
        type=message.type,
        correlation_id=message.correlation_id,
        reply_to=message.reply_to,
        traceparent=headers.text("traceparent"),
        causation_id=headers.text("causation_id"),
        routing_key=message.routing_key,
        timestamp=message.timestamp,
        schema_version=schema_version,
        user_id=message.user_id,
        header_problem=headers.problem,
        exchange=message.exchange or "",
        sender=sender(message.user_id, headers.values, publisher),
        position=headers.position(),
    )
