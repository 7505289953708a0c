"""The use case's port to its event store, in the use case's words; store.py and memory.py implement it.

Both pass one contract suite (tests/store_contract.py), so the fake is as honest as the real thing.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from cqrs_shared.contracts import CommandReply, EventEnvelope, Metadata, StreamType
from cqrs_shared.contracts.queries import StreamRef

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class StreamState:
    """An aggregate's current state as stored (JSON), and the version it is at."""

    stream_type: StreamType
    version: int
    state: JsonObject


@dataclass(frozen=True)
class Loaded:
    """What deciding one command needs, read at once: its recorded reply, and the streams it names."""

    reply: CommandReply | None
    streams: dict[UUID, StreamState]


@dataclass(frozen=True)
class NewEvent:
    event_id: UUID
    type: str
    schema_version: int
    data: JsonObject


@dataclass(frozen=True)
class StreamChange:
    """New events on a stream loaded at ``loaded_version``, and the state after them."""

    stream_type: StreamType
    stream_id: UUID
    loaded_version: int
    state: JsonObject
    events: list[NewEvent]


@dataclass(frozen=True)
class Change:
    """One command's outcome: its reply, and the stream change when it caused events."""

    command_id: UUID
    command_type: str
    reply: CommandReply
    metadata: Metadata
    stream: StreamChange | None = None


@dataclass(frozen=True)
class PendingEvent:
    """A committed event at its place in the commit order (``seq``), with its message metadata."""

    seq: int
    envelope: EventEnvelope
    metadata: Metadata


class EventStore(Protocol):
    async def load(self, command_id: UUID, stream_ids: Sequence[UUID]) -> Loaded:
        """The reply recorded for ``command_id`` and the current state of each existing stream named."""
        ...

    async def commit(self, change: Change) -> CommandReply:
        """Write ``change`` all or nothing; return the reply recorded for its command.

        That is the change's own reply, or the one a concurrent duplicate of the command recorded
        first. Raises ConcurrencyConflict when the stream moved after ``loaded_version``.
        """
        ...

    async def read_stream(self, stream_id: UUID, after_version: int, limit: int) -> list[PendingEvent]:
        """A stream's events after a version, oldest first, at most ``limit``."""
        ...

    async def list_streams(self, after: UUID | None, limit: int) -> list[StreamRef]:
        """Each stream (type, id, version), in id order, after ``after``; at most ``limit``."""
        ...

    async def count_streams(self) -> int:
        """How many streams there are."""
        ...


class Row(Protocol):
    """A row of the ``events`` table by column name: an asyncpg Record, or a dict."""

    def __getitem__(self, key: str, /) -> Any: ...


def pending_event(row: Row) -> PendingEvent:
    """An event from the columns of the event store's ``events`` table (or a dict with those keys)."""
    envelope = EventEnvelope.model_validate(
        {
            "event_id": row["event_id"],
            "stream_type": row["stream_type"],
            "stream_id": row["stream_id"],
            "version": row["version"],
            "occurred_at": row["occurred_at"],
            "event": row["data"],
            # Stored in the schema it was written in; read through the upcasters (contracts/evolution).
            "schema_version": row["schema_version"],
        }
    )
    metadata = Metadata(
        message_id=row["event_id"],
        type=row["type"],
        schema_version=envelope.schema_version,
        correlation_id=row["correlation_id"],
        causation_id=row["causation_id"],
        timestamp=row["occurred_at"],
        traceparent=row["traceparent"],
    )
    return PendingEvent(row["seq"], envelope, metadata)
