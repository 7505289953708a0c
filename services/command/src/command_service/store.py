"""The PostgreSQL adapter: event store + outbox, current state per stream, command results.

async with open_pool(dsn) as pool:
    store = EventStore(pool)
    await store.commit(change)
"""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from command_service.errors import ConcurrencyConflict, DuplicateCommand
from cqrs_shared.contracts import EventEnvelope, Metadata
from cqrs_shared.contracts.metadata import SCHEMA_VERSION

NOTIFY_CHANNEL = "cqrs_events"
JsonObject = dict[str, Any]
Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


@asynccontextmanager
async def open_pool(dsn: str, *, max_size: int = 10) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(dsn, min_size=1, max_size=max_size, init=_init_connection) as pool:
        yield pool


@dataclass(frozen=True)
class StreamState:
    stream_type: str
    version: int
    state: JsonObject


@dataclass(frozen=True)
class NewEvent:
    event_id: UUID
    type: str
    data: JsonObject


@dataclass(frozen=True)
class Change:
    """One command's outcome, written in one transaction."""

    command_id: UUID
    command_type: str
    stream_type: str
    stream_id: UUID
    loaded_version: int
    state: JsonObject
    events: list[NewEvent]
    reply: JsonObject
    metadata: Metadata


@dataclass(frozen=True)
class PendingEvent:
    seq: int
    envelope: EventEnvelope
    metadata: Metadata


class EventStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def stored_reply(self, command_id: UUID) -> JsonObject | None:
        reply: JsonObject | None = await self._pool.fetchval(
            "SELECT reply FROM command_results WHERE command_id = $1", command_id
        )
        return reply

    async def load(self, stream_id: UUID) -> StreamState | None:
        row = await self._pool.fetchrow(
            "SELECT stream_type, version, state FROM streams WHERE stream_id = $1", stream_id
        )
        return None if row is None else StreamState(row["stream_type"], row["version"], row["state"])

    async def record_result(self, command_id: UUID, command_type: str, reply: JsonObject) -> None:
        """Record a reply without a state change (a rejection, or a command that changed nothing)."""
        try:
            await self._pool.execute(
                "INSERT INTO command_results (command_id, command_type, reply) VALUES ($1, $2, $3)",
                command_id,
                command_type,
                reply,
            )
        except asyncpg.UniqueViolationError:
            raise DuplicateCommand(str(command_id)) from None

    async def commit(self, change: Change) -> None:
        """Append the events, move the stream's state, record the reply: all or nothing."""
        new_version = change.loaded_version + len(change.events)
        now = datetime.now(UTC)
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                await self._save_state(conn, change, new_version, now)
                await conn.executemany(
                    "INSERT INTO events (event_id, stream_type, stream_id, version, type,"
                    " schema_version, data, correlation_id, causation_id, traceparent, occurred_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    [
                        (
                            event.event_id,
                            change.stream_type,
                            change.stream_id,
                            change.loaded_version + index,
                            event.type,
                            SCHEMA_VERSION,
                            event.data,
                            change.metadata.correlation_id,
                            str(change.command_id),
                            change.metadata.traceparent,
                            now,
                        )
                        for index, event in enumerate(change.events, start=1)
                    ],
                )
                await conn.execute(
                    "INSERT INTO command_results (command_id, command_type, reply) VALUES ($1, $2, $3)",
                    change.command_id,
                    change.command_type,
                    change.reply,
                )
                await conn.execute("SELECT pg_notify($1, '')", NOTIFY_CHANNEL)
        except asyncpg.UniqueViolationError as error:
            if error.constraint_name == "command_results_pkey":
                raise DuplicateCommand(str(change.command_id)) from None
            raise ConcurrencyConflict(str(change.stream_id)) from None

    async def _save_state(self, conn: Connection, change: Change, new_version: int, now: datetime) -> None:
        if change.loaded_version == 0:
            await conn.execute(
                "INSERT INTO streams (stream_id, stream_type, version, state, updated_at)"
                " VALUES ($1, $2, $3, $4, $5)",
                change.stream_id,
                change.stream_type,
                new_version,
                change.state,
                now,
            )
            return
        status = await conn.execute(
            "UPDATE streams SET version = $2, state = $3, updated_at = $4"
            " WHERE stream_id = $1 AND version = $5",
            change.stream_id,
            new_version,
            change.state,
            now,
            change.loaded_version,
        )
        if status != "UPDATE 1":
            raise ConcurrencyConflict(str(change.stream_id))

    async def read_stream(self, stream_id: UUID, after_version: int, limit: int) -> list[PendingEvent]:
        rows = await self._pool.fetch(
            f"{_EVENT_COLUMNS} WHERE stream_id = $1 AND version > $2 ORDER BY version LIMIT $3",
            stream_id,
            after_version,
            limit,
        )
        return [_pending(row) for row in rows]

    async def unpublished(self, limit: int) -> list[PendingEvent]:
        """Committed events not yet confirmed by the broker, in commit-safe order (seq)."""
        rows = await self._pool.fetch(
            f"{_EVENT_COLUMNS} WHERE published_at IS NULL ORDER BY seq LIMIT $1", limit
        )
        return [_pending(row) for row in rows]

    async def mark_published(self, seqs: list[int]) -> None:
        await self._pool.execute("UPDATE events SET published_at = now() WHERE seq = ANY($1::bigint[])", seqs)


_EVENT_COLUMNS = (
    "SELECT seq, event_id, stream_type, stream_id, version, type, schema_version, data,"
    " correlation_id, causation_id, traceparent, occurred_at FROM events"
)


def _pending(row: asyncpg.Record) -> PendingEvent:
    envelope = EventEnvelope.model_validate(
        {
            "event_id": row["event_id"],
            "stream_type": row["stream_type"],
            "stream_id": row["stream_id"],
            "version": row["version"],
            "occurred_at": row["occurred_at"],
            "event": row["data"],
        }
    )
    metadata = Metadata(
        message_id=row["event_id"],
        type=row["type"],
        schema_version=row["schema_version"],
        correlation_id=row["correlation_id"],
        causation_id=row["causation_id"],
        timestamp=row["occurred_at"],
        traceparent=row["traceparent"],
    )
    return PendingEvent(row["seq"], envelope, metadata)
