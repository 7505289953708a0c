"""The event store in memory: the port's fake for unit tests, held to the same contract as PostgreSQL.

Each call yields to the event loop once before it acts, so concurrent handlers interleave as they
would against a database; what a call then does happens at once, as a transaction would.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from uuid import UUID

from command_service.errors import ConcurrencyConflict
from command_service.ports import (
    Change,
    Loaded,
    PendingEvent,
    Recorded,
    StreamChange,
    StreamState,
    pending_event,
)
from cqrs_contracts import Metadata
from cqrs_contracts.queries import StreamRef


class InMemoryEventStore:
    def __init__(self) -> None:
        self.results: dict[UUID, Recorded] = {}
        self.streams: dict[UUID, StreamState] = {}
        self.events: list[PendingEvent] = []

    async def load(self, command_id: UUID, stream_ids: Sequence[UUID]) -> Loaded:
        await asyncio.sleep(0)
        found = {stream_id: self.streams[stream_id] for stream_id in stream_ids if stream_id in self.streams}
        return Loaded(self.results.get(command_id), found)

    async def commit(self, change: Change) -> Recorded:
        await asyncio.sleep(0)
        recorded = self.results.get(change.command_id)
        if recorded is not None:
            return recorded
        if change.stream is not None:
            self._append(change.stream, change.metadata)
        self.results[change.command_id] = change.recorded()
        return change.recorded()

    async def commit_together(self, changes: Sequence[Change]) -> None:
        await asyncio.sleep(0)
        appending = [change.stream for change in changes if change.stream is not None]
        current = self.streams.get(appending[0].stream_id)
        moved = (current.version if current else 0) != appending[0].loaded_version
        ids = [change.command_id for change in changes]
        if moved or len(set(ids)) < len(ids) or any(command_id in self.results for command_id in ids):
            raise ConcurrencyConflict(str(appending[0].stream_id))
        for change in changes:  # each append checks where the one before left the stream
            if change.stream is not None:
                self._append(change.stream, change.metadata)
            self.results[change.command_id] = change.recorded()

    async def list_streams(self, after: UUID | None, limit: int) -> list[StreamRef]:
        await asyncio.sleep(0)
        ids = sorted(stream_id for stream_id in self.streams if after is None or stream_id > after)
        return [
            StreamRef(stream_type=state.stream_type, stream_id=stream_id, version=state.version)
            for stream_id in ids[:limit]
            for state in [self.streams[stream_id]]
        ]

    async def count_streams(self) -> int:
        await asyncio.sleep(0)
        return len(self.streams)

    async def read_stream(self, stream_id: UUID, after_version: int, limit: int) -> list[PendingEvent]:
        await asyncio.sleep(0)
        found = [
            item
            for item in self.events
            if item.envelope.stream_id == stream_id and item.envelope.version > after_version
        ]
        return found[:limit]

    async def read_all(self, after_position: int, limit: int) -> tuple[list[PendingEvent], int]:
        await asyncio.sleep(0)
        # Positioned at commit (a commit happens at once here), so position n is events[n - 1].
        return self.events[after_position : after_position + limit], len(self.events)

    async def assign_positions(self, limit: int) -> int:
        await asyncio.sleep(0)
        return 0

    def _append(self, stream: StreamChange, metadata: Metadata) -> None:
        current = self.streams.get(stream.stream_id)
        if (current.version if current else 0) != stream.loaded_version:
            raise ConcurrencyConflict(str(stream.stream_id))
        if stream.owner is not None:
            owner = self.streams.get(stream.owner.stream_id)
            if owner is None or owner.owned != stream.owner.loaded_owned:
                raise ConcurrencyConflict(str(stream.owner.stream_id))
            self.streams[stream.owner.stream_id] = replace(owner, owned=owner.owned + 1)
        now = datetime.now(UTC)
        for version, event in enumerate(stream.events, start=stream.loaded_version + 1):
            row = {
                "seq": len(self.events) + 1,
                "position": len(self.events) + 1,
                "event_id": event.event_id,
                "stream_type": stream.stream_type,
                "stream_id": stream.stream_id,
                "version": version,
                "type": event.type,
                "schema_version": event.schema_version,
                "data": event.data,
                "correlation_id": metadata.correlation_id,
                "causation_id": str(metadata.message_id),
                "traceparent": metadata.traceparent,
                "occurred_at": now,
            }
            self.events.append(pending_event(row))
        new_version = stream.loaded_version + len(stream.events)
        owned = current.owned if current else 0
        self.streams[stream.stream_id] = StreamState(stream.stream_type, new_version, stream.state, owned)
