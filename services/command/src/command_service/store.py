"""The PostgreSQL adapter of the event store port: events (also the outbox), state, command results.

async with open_pool(dsn) as pool:
    store = PostgresEventStore(pool)
    recorded = await store.commit(change)
"""

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
from pydantic import TypeAdapter

from command_service.errors import ConcurrencyConflict
from command_service.ports import (
    Change,
    Loaded,
    PendingEvent,
    Recorded,
    StreamChange,
    StreamState,
    UnreadableEvent,
    pending_event,
    read_pending,
)
from cqrs_client.errors import StartupError
from cqrs_client.redaction import redact
from cqrs_contracts import CommandReply
from cqrs_contracts.queries import StreamRef

NOTIFY_CHANNEL = "cqrs_events"
# pg_advisory_xact_lock key: "cqrspost" as an int64: one numbering of positions at a time.
POSITION_LOCK = 0x63717273706F7374
Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
REPLY = TypeAdapter[CommandReply](CommandReply)

# What the command id names already and the streams the command names, in one round trip.
_LOAD = (
    "SELECT NULL::uuid AS stream_id, NULL AS stream_type, NULL::int AS version, NULL::int AS owned,"
    " jsonb_build_object('command_type', command_type, 'sender', sender, 'reply', reply) AS data"
    " FROM command_results WHERE command_id = $1"
    " UNION ALL SELECT stream_id, stream_type, version, owned, state FROM streams"
    " WHERE stream_id = ANY($2::uuid[])"
)


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """What the pool does to a connection given back, after asyncpg has rolled back any transaction
    left open: nothing. asyncpg's own reset sends four statements (unlock all advisory locks, CLOSE
    ALL, UNLISTEN *, RESET ALL) on every release: a second round trip for each query through the pool,
    measured at a quarter of the command service's PostgreSQL time. Only session() connections hold
    session state here, and it resets them itself."""


@asynccontextmanager
async def session(pool: asyncpg.Pool) -> AsyncIterator["Connection"]:
    """A pooled connection for session state (advisory locks, LISTEN): fully reset when given back,
    or closed when it cannot be (its locks then go with it)."""
    async with pool.acquire() as conn:
        try:
            yield conn
        finally:
            try:
                if not conn.is_closed():
                    await conn.reset(timeout=5)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                conn.terminate()


@asynccontextmanager
async def open_pool(dsn: str, *, max_size: int = 10) -> AsyncIterator[asyncpg.Pool]:
    try:
        pool = await asyncpg.create_pool(
            dsn, min_size=1, max_size=max_size, init=_init_connection, reset=_keep_session
        )
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise StartupError(f"cannot connect to PostgreSQL at {redact(dsn)}: {error!r}") from None
    async with pool:
        yield pool


class PostgresEventStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def load(self, command_id: UUID, stream_ids: Sequence[UUID]) -> Loaded:
        recorded, streams = None, {}
        for row in await self._pool.fetch(_LOAD, command_id, list(stream_ids)):
            if row["stream_id"] is None:
                data = row["data"]
                recorded = Recorded(
                    data["command_type"], data["sender"], REPLY.validate_python(data["reply"])
                )
            else:
                streams[row["stream_id"]] = StreamState(
                    row["stream_type"], row["version"], row["data"], row["owned"]
                )
        return Loaded(recorded, streams)

    async def commit(self, change: Change) -> Recorded:
        try:
            if change.stream is None:
                await self._record(change)
            elif not await self._append(change.stream, change):
                raise ConcurrencyConflict(str(change.stream.stream_id))
        except asyncpg.UniqueViolationError as error:
            if error.constraint_name != "command_results_pkey":
                raise ConcurrencyConflict(str(change.stream.stream_id if change.stream else "")) from None
            # A command under this id was recorded first (a duplicate, or a misuse of the id): what
            # it recorded is what the id names; the handler judges which.
            recorded = (await self.load(change.command_id, [])).recorded
            if recorded is None:
                raise RuntimeError(f"command {change.command_id} is a duplicate without a result") from None
            return recorded
        return change.recorded()

    async def _record(self, change: Change) -> None:
        """A rejected command's result: nothing else to write."""
        await self._pool.execute(
            "INSERT INTO command_results (command_id, command_type, sender, reply) VALUES ($1, $2, $3, $4)",
            change.command_id,
            change.command_type,
            change.sender,
            change.reply.model_dump(mode="json"),
        )

    async def _append(self, stream: StreamChange, change: Change) -> bool:
        """State, events and result in one statement, so one round trip and its own transaction;
        False (nothing written) when the stream is no longer at ``stream.loaded_version``, or its
        owner no longer owns ``owner.loaded_owned`` streams."""
        if stream.owner is not None:
            sql, owner = _APPEND_OWNED, [stream.owner.stream_id, stream.owner.loaded_owned]
        else:
            sql, owner = (_APPEND_NEW if stream.loaded_version == 0 else _APPEND_NEXT), []
        events = _event_rows(stream)
        written: int = await self._pool.fetchval(
            sql,
            stream.stream_id,
            stream.stream_type,
            stream.loaded_version + len(stream.events),
            stream.state,
            datetime.now(UTC),
            stream.loaded_version,
            events,
            change.metadata.correlation_id,
            str(change.command_id),
            change.metadata.traceparent,
            change.command_id,
            change.command_type,
            change.reply.model_dump(mode="json"),
            change.sender,
            *owner,
        )
        return written == 1

    async def commit_together(self, changes: Sequence[Change]) -> None:
        """Several commands' outcomes on one existing stream, decided in turn, in one statement and
        one transaction: the state row from the first append's version to the last's, every event,
        every result. ConcurrencyConflict when the stream moved or any command id is taken (nothing
        is written; the caller commits them one by one)."""
        appending = [change.stream for change in changes if change.stream is not None]
        first, last = appending[0], appending[-1]
        events = [
            {
                **row,
                "correlation_id": change.metadata.correlation_id,
                "causation_id": str(change.command_id),
                "traceparent": change.metadata.traceparent,
            }
            for change in changes
            if change.stream is not None
            for row in _event_rows(change.stream)
        ]
        results = [
            {
                "command_id": str(change.command_id),
                "command_type": change.command_type,
                "reply": change.reply.model_dump(mode="json"),
                "sender": change.sender,
            }
            for change in changes
        ]
        version = last.loaded_version + len(last.events)
        now = datetime.now(UTC)
        try:
            written: int = await self._pool.fetchval(
                _APPEND_TOGETHER, first.stream_id, first.stream_type, version, last.state, now,
                first.loaded_version, events, results,
            )  # fmt: skip
        except asyncpg.UniqueViolationError:
            raise ConcurrencyConflict(str(first.stream_id)) from None
        if written != 1:
            raise ConcurrencyConflict(str(first.stream_id))

    async def read_stream(self, stream_id: UUID, after_version: int, limit: int) -> list[PendingEvent]:
        rows = await self._pool.fetch(
            f"{_EVENT_COLUMNS} WHERE stream_id = $1 AND version > $2 ORDER BY version LIMIT $3",
            stream_id,
            after_version,
            limit,
        )
        return [pending_event(row) for row in rows]

    async def list_streams(self, after: UUID | None, limit: int) -> list[StreamRef]:
        """Each stream (type, id, version), in id order, after ``after``; at most ``limit``."""
        rows = await self._pool.fetch(
            "SELECT stream_type, stream_id, version FROM streams"
            " WHERE $1::uuid IS NULL OR stream_id > $1 ORDER BY stream_id LIMIT $2",
            after,
            limit,
        )
        return [StreamRef.model_validate(dict(row)) for row in rows]

    async def count_streams(self) -> int:
        return int(await self._pool.fetchval("SELECT count(*) FROM streams"))

    async def read_all(self, after_position: int, limit: int) -> tuple[list[PendingEvent], int]:
        rows = await self._pool.fetch(
            f"{_EVENT_COLUMNS} WHERE position > $1 ORDER BY position LIMIT $2", after_position, limit
        )
        head = await self._pool.fetchval("SELECT coalesce(max(position), 0) FROM events")
        return [pending_event(row) for row in rows], int(head)

    async def assign_positions(self, limit: int) -> int:
        """Number up to ``limit`` events in commit order; how many it numbered. One round trip: the
        lock and the numbering go as one simple query, which PostgreSQL runs as one transaction
        (it was four: BEGIN, the lock, the numbering, COMMIT)."""
        # The lock is its own statement, before the numbering starts, so that the numbering's
        # snapshot sees every numbering committed before: read committed takes one per statement.
        sql = f"SELECT pg_advisory_xact_lock({int(POSITION_LOCK)}); {_POSITION.format(limit=int(limit))}"
        status: str = await self._pool.execute(sql)
        return int(status.rsplit(" ", 1)[-1])

    async def unpublished(
        self, limit: int, held_back: Sequence[UUID] = ()
    ) -> list[PendingEvent | UnreadableEvent]:
        """Committed events not yet confirmed by the broker, in commit order (their positions), but
        for the streams ``held_back``: a stream that waits must not fill every batch and starve the
        others. An event is published once it has a position (assign_positions), so that readers
        of the events live and of ReadAll see one order."""
        rows = await self._pool.fetch(_UNPUBLISHED, limit, list(held_back))
        return [read_pending(row) for row in rows]

    async def outbox(self) -> tuple[int, float]:
        """Committed events not yet published, and the age in seconds of the oldest of them."""
        row = await self._pool.fetchrow(
            "SELECT count(*) AS backlog, coalesce(extract(epoch FROM now() - min(occurred_at)), 0) AS age"
            " FROM events WHERE published_at IS NULL"
        )
        return (0, 0.0) if row is None else (int(row["backlog"]), float(row["age"]))

    async def mark_published(self, seqs: list[int]) -> None:
        await self._pool.execute("UPDATE events SET published_at = now() WHERE seq = ANY($1::bigint[])", seqs)


# One command's writes as one statement ($1 stream id, $2 type, $3 new version, $4 state, $5 now,
# $6 loaded version, $7 the events as a JSON array, $8-$10 correlation, causation, traceparent,
# $11-$14 the command's result: id, type, reply, sender). The state row is taken first: when it is
# not where the command found it, nothing else is written, and the statement answers 0. A duplicate
# command id, or an event version taken meanwhile, fails the whole statement (a unique violation).
# Each form names all fourteen parameters (hence `$6::int = 0` and `$2::text IS NOT NULL`, always
# true where used): PostgreSQL cannot type a parameter a statement does not use, and one argument
# list serves them all (the owned form takes two more, its own).
_STATE_NEW = (
    "INSERT INTO streams (stream_id, stream_type, version, state, updated_at)"
    " SELECT $1, $2, $3, $4, $5 WHERE $6::int = 0"
    " ON CONFLICT (stream_id) DO NOTHING RETURNING stream_id"
)
_STATE_NEXT = (
    "UPDATE streams SET version = $3, state = $4, updated_at = $5"
    " WHERE stream_id = $1 AND version = $6 AND $2::text IS NOT NULL RETURNING stream_id"
)
# A new stream with an owner ($15, owning $16 streams when loaded; an account's customer) takes the
# owner's row first: one more owned, only if it still owns $16. Else nothing is written and the
# statement answers 0, like a moved stream. Concurrent writers of one owner queue on its row lock,
# and the second finds the count moved (PostgreSQL re-checks an UPDATE's WHERE on the row it waited
# for), so a bound on the count holds exactly. Here the stream id taken meanwhile is a unique
# violation (no ON CONFLICT DO NOTHING): answering 0 after the owner's count went up would commit it.
_OWNER = (
    "owner AS (UPDATE streams SET owned = owned + 1"
    " WHERE stream_id = $15 AND owned = $16 AND $6::int = 0 RETURNING stream_id)"
)
_STATE_OWNED = (
    "INSERT INTO streams (stream_id, stream_type, version, state, updated_at)"
    " SELECT $1, $2, $3, $4, $5 FROM owner RETURNING stream_id"
)
_APPEND_TAIL = (
    ", appended AS (INSERT INTO events (event_id, stream_type, stream_id, version, type,"
    " schema_version, data, correlation_id, causation_id, traceparent, occurred_at)"
    " SELECT (e->>'event_id')::uuid, $2, $1, (e->>'version')::int, e->>'type',"
    " (e->>'schema_version')::int, e->'data', $8, $9, $10, $5"
    " FROM jsonb_array_elements($7::jsonb) WITH ORDINALITY AS x(e, n), state ORDER BY n)"
    ", result AS (INSERT INTO command_results (command_id, command_type, reply, sender)"
    " SELECT $11, $12, $13, $14 FROM state)"
    f" SELECT count(*)::int FROM (SELECT pg_notify('{NOTIFY_CHANNEL}', '') FROM state) AS notified"
)
_APPEND_NEW = f"WITH state AS ({_STATE_NEW}){_APPEND_TAIL}"
_APPEND_NEXT = f"WITH state AS ({_STATE_NEXT}){_APPEND_TAIL}"
_APPEND_OWNED = f"WITH {_OWNER}, state AS ({_STATE_OWNED}){_APPEND_TAIL}"


def _event_rows(stream: StreamChange) -> list[dict[str, object]]:
    """``stream``'s new events as the append statements read them ($7, a JSON array)."""
    return [
        {
            "event_id": str(event.event_id),
            "version": version,
            "type": event.type,
            "schema_version": event.schema_version,
            "data": event.data,
        }
        for version, event in enumerate(stream.events, start=stream.loaded_version + 1)
    ]


# Several commands on one existing stream (commit_together): the state row moves from $6 to $3 or
# nothing is written; the events ($7) carry each its command's correlation, causation and trace;
# the results ($8) are every command's, accepted or rejected.
_APPEND_TOGETHER = (
    "WITH state AS (UPDATE streams SET version = $3, state = $4, updated_at = $5"
    " WHERE stream_id = $1 AND version = $6 RETURNING stream_id)"
    ", appended AS (INSERT INTO events (event_id, stream_type, stream_id, version, type,"
    " schema_version, data, correlation_id, causation_id, traceparent, occurred_at)"
    " SELECT (e->>'event_id')::uuid, $2, $1, (e->>'version')::int, e->>'type',"
    " (e->>'schema_version')::int, e->'data', e->>'correlation_id', e->>'causation_id',"
    " e->>'traceparent', $5"
    " FROM jsonb_array_elements($7::jsonb) WITH ORDINALITY AS x(e, n), state ORDER BY n)"
    ", result AS (INSERT INTO command_results (command_id, command_type, reply, sender)"
    " SELECT (r->>'command_id')::uuid, r->>'command_type', r->'reply', r->>'sender'"
    " FROM jsonb_array_elements($8::jsonb) AS y(r), state)"
    f" SELECT count(*)::int FROM (SELECT pg_notify('{NOTIFY_CHANNEL}', '') FROM state) AS notified"
)

# The next committed events without a position ($1 at most), in seq order, numbered after the highest
# position given (migrations/004_positions.sql says why this keeps positions gap-free).
# Its status says how many it numbered ("UPDATE n"); {limit} is an int the relay gives.
_POSITION = (
    "WITH head AS (SELECT coalesce(max(position), 0) AS last FROM events),"
    " next AS (SELECT seq, row_number() OVER (ORDER BY seq) AS n FROM"
    " (SELECT seq FROM events WHERE position IS NULL ORDER BY seq LIMIT {limit}) AS unnumbered)"
    " UPDATE events SET position = head.last + next.n FROM head, next WHERE events.seq = next.seq"
)

_EVENT_COLUMNS = (
    "SELECT seq, position, event_id, stream_type, stream_id, version, type, schema_version, data,"
    " correlation_id, causation_id, traceparent, occurred_at FROM events"
)
# A round's read ($1 how many, $2 the streams held back), by the index of the unpublished events in
# position order (migration 007): it touches what is unpublished, not the history.
_UNPUBLISHED = (
    f"{_EVENT_COLUMNS} WHERE published_at IS NULL AND position IS NOT NULL"
    " AND stream_id <> ALL($2::uuid[]) ORDER BY position LIMIT $1"
)
