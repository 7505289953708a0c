"""The use case's port to its event store, in the use case's words; store.py and memory.py implement it.

Both pass one contract suite (tests/store_contract.py), so the fake is as honest as the real thing.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from pydantic import ValidationError

from cqrs_contracts import CommandReply, EventEnvelope, Metadata, StreamType
from cqrs_contracts.queries import StreamRef

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class StreamState:
    """An aggregate's current state as stored (JSON), the version it is at, and how many streams it
    owns (a customer's accounts: see StreamChange.owner)."""

    stream_type: StreamType
    version: int
    state: JsonObject
    owned: int = 0


@dataclass(frozen=True)
class Recorded:
    """What a command id names once a command under it was decided: that command's type, its sender
    (the RabbitMQ user_id; None when it said none, or when recorded before senders were), its reply."""

    command_type: str
    sender: str | None
    reply: CommandReply


@dataclass(frozen=True)
class Loaded:
    """What deciding one command needs, read at once: what its id names already, and the streams it names."""

    recorded: Recorded | None
    streams: dict[UUID, StreamState]


@dataclass(frozen=True)
class NewEvent:
    event_id: UUID
    type: str
    schema_version: int
    data: JsonObject


@dataclass(frozen=True)
class Owner:
    """The stream a new stream belongs to (an account's customer), and how many it owned when loaded."""

    stream_id: UUID
    loaded_owned: int


@dataclass(frozen=True)
class StreamChange:
    """New events on a stream loaded at ``loaded_version``, and the state after them; a new stream
    with an ``owner`` adds one to what the owner owns, if that is still ``owner.loaded_owned``."""

    stream_type: StreamType
    stream_id: UUID
    loaded_version: int
    state: JsonObject
    events: list[NewEvent]
    owner: Owner | None = None


@dataclass(frozen=True)
class Change:
    """One command's outcome: its reply, and the stream change when it caused events."""

    command_id: UUID
    command_type: str
    sender: str | None
    reply: CommandReply
    metadata: Metadata
    stream: StreamChange | None = None

    def recorded(self) -> Recorded:
        return Recorded(self.command_type, self.sender, self.reply)


@dataclass(frozen=True)
class PendingEvent:
    """A committed event at its place in the commit order (``seq``), with its message metadata."""

    seq: int
    envelope: EventEnvelope
    metadata: Metadata


@dataclass(frozen=True)
class UnreadableEvent:
    """A stored event row that does not read as an event (corrupt, or a schema this code does not
    know): where it stands in its stream, and why, without its values (they may be personal data)."""

    seq: int
    stream_id: UUID
    version: int
    reason: str


class EventStore(Protocol):
    async def load(self, command_id: UUID, stream_ids: Sequence[UUID]) -> Loaded:
        """What is recorded for ``command_id``, and the current state of each existing stream named."""
        ...

    async def commit(self, change: Change) -> Recorded:
        """Write ``change`` all or nothing; return what its command id then names.

        That is the change itself, or what a concurrent command under the same id recorded first
        (then nothing of ``change`` is written). Raises ConcurrencyConflict when the stream moved
        after ``loaded_version``, or its owner no longer owns ``loaded_owned`` streams.
        """
        ...

    async def commit_together(self, changes: Sequence[Change]) -> None:
        """Write ``changes`` all or nothing: commands decided in turn on one existing stream, the
        first append at its ``loaded_version``, each next one where the one before left it, and any
        rejections among them. Raises ConcurrencyConflict when the stream moved, or when any of
        their command ids is taken already; then nothing is written.
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

    async def read_all(self, after_position: int, limit: int) -> tuple[list[PendingEvent], int]:
        """The events of every stream after a global position, in position order, at most
        ``limit``; and the head, the last position given when it was read."""
        ...

    async def assign_positions(self, limit: int) -> int:
        """Give committed events without a global position theirs (at most ``limit``, oldest
        first); how many got one. Positions are gap-free and follow the commit order."""
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
            "position": row["position"],
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


def read_pending(row: Row) -> PendingEvent | UnreadableEvent:
    """The event of one row, or why it cannot be read: one bad row must stop only its own stream."""
    try:
        return pending_event(row)
    except ValueError as error:  # pydantic's ValidationError and the upcasters' NewerSchema among them
        return UnreadableEvent(row["seq"], row["stream_id"], row["version"], _why(error))


def _why(error: ValueError) -> str:
    """The error's kind and where it is, bounded; not the values it found."""
    if isinstance(error, ValidationError):
        details = error.errors(include_url=False, include_context=False, include_input=False)
        where = "; ".join(f"{'.'.join(map(str, d['loc'])) or '(root)'}: {d['msg']}" for d in details[:3])
        return f"{len(details)} validation error(s): {where}"[:300]
    return f"{type(error).__name__}: {error}"[:300]
