"""The outbox relay: publishes committed events in order, with publisher confirms.

One relay leads (a PostgreSQL advisory lock), so replicas never reorder a stream. The leader also
gives each committed event its global position (store.assign_positions) before it publishes it. It wakes on
LISTEN/NOTIFY and polls as a fallback. While events keep coming, a round begins ``round_interval``
after the last one ended, so that it carries what committed meanwhile; an event after a quiet moment
goes at once. It reads "what is not yet published" rather than "what is
after the last sequence number", so a transaction that commits late with an earlier sequence
number is still published (the outbox high-water-mark bug cannot happen).

A stream whose next event cannot go out waits alone while the others flow: an event the broker
returns unrouted (it is published ``mandatory``; without that, an event no queue was bound for was
dropped yet marked published: issue 20), or a row that does not read as an event. That stream is
held back, tried again after a pause that doubles up to a bound, and its later events never
overtake it (ARCHITECTURE.md, invariant 2).
"""

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
from aio_pika.abc import AbstractExchange
from aio_pika.exceptions import PublishError

from command_service import metrics
from command_service.held_streams import DEFAULT_BACKOFF, Backoff, HeldStreams
from command_service.ports import PendingEvent, UnreadableEvent
from command_service.store import NOTIFY_CHANNEL, Connection, PostgresEventStore, session
from cqrs_client.messaging import topology
from cqrs_client.messaging.envelope import outgoing
from cqrs_client.messaging.publishing import BROKER_FAILURES, publish
from cqrs_client.tracing import continued
from cqrs_contracts import routing_key
from cqrs_shared.runtime.waiting import first_of

log = logging.getLogger(__name__)

# pg_try_advisory_lock key: "cqrsrela" as an int64.
RELAY_LOCK = 0x6371727372656C61


# Events numbered per batch: more than a batch publishes, so a backlog without positions (events
# committed by a replica of an older version) is soon numbered.
POSITIONS_PER_BATCH = 1000


class LeadershipLost(Exception):
    """The connection holding the leader lock is gone; lead again only after taking it again."""


@dataclass(frozen=True)
class _Outcome:
    """One stream's round: the events the broker confirmed, and whether the broker failed it."""

    confirmed: list[PendingEvent]
    failed: bool


@dataclass(frozen=True)
class _Batch:
    confirmed: int
    more: bool  # a full batch, each stream published or held back: the next may be ready now


class Relay:
    def __init__(
        self,
        store: PostgresEventStore,
        exchange: AbstractExchange,
        *,
        batch_size: int = 200,
        poll_interval: float = 1.0,
        round_interval: float = 0.0,
        backoff: Backoff = DEFAULT_BACKOFF,
    ) -> None:
        """``exchange`` must be on a channel with publisher confirms and ``on_return_raises``: on
        any other, aio-pika confirms a returned event as if it had been routed.

        ``round_interval``: seconds at least from one round's end to the next's start, unless the round
        found a full batch. A round costs three statements and a confirm whatever it carries, so at a
        steady rate well below the full batch, where rounds carry one or two events, 0.01 cut the CPU
        per command by 14 % and added about 8 ms to the lag's median (docs/performance.md, change 13)."""
        self._store = store
        self._exchange = exchange
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._round_interval = round_interval
        self._held = HeldStreams(backoff)
        self._wake = asyncio.Event()

    async def publish_pending(self) -> int:
        """Publish one batch of unpublished events; return how many the broker confirmed."""
        return (await self._publish_batch()).confirmed

    async def _publish_batch(self) -> _Batch:
        # Numbered first: only an event with its global position goes out (store.unpublished).
        numbered = await self._store.assign_positions(POSITIONS_PER_BATCH)
        pending = await self._store.unpublished(self._batch_size, self._held.waiting())
        streams: dict[UUID, list[PendingEvent | UnreadableEvent]] = {}
        for item in pending:
            streams.setdefault(_stream_of(item), []).append(item)
        outcomes = await asyncio.gather(*(self._publish_stream(s, items) for s, items in streams.items()))
        self._held.report()
        confirmed = [event for outcome in outcomes for event in outcome.confirmed]
        if confirmed:
            await self._store.mark_published([event.seq for event in confirmed])
            now = datetime.now(UTC)
            for event in confirmed:
                metrics.COMMIT_TO_PUBLISH.observe((now - event.envelope.occurred_at).total_seconds())
        # Held streams are left out of the next batch, so it moves on; after a broker failure, the
        # next batch would fail alike: wait for NOTIFY or the poll instead.
        failed = any(outcome.failed for outcome in outcomes)
        more = (len(pending) >= self._batch_size or numbered >= POSITIONS_PER_BATCH) and not failed
        return _Batch(len(confirmed), more)

    async def _publish_stream(self, stream_id: UUID, items: list[PendingEvent | UnreadableEvent]) -> _Outcome:
        """One stream's events strictly in order, each confirmed before the next goes out.

        Streams are published side by side. A failure stops its stream only: what follows it is
        not marked, so it goes out again, after it, on a later round. An event returned unrouted,
        or a row that cannot be read, also holds the stream back for a pause (HeldStreams).
        """
        confirmed: list[PendingEvent] = []
        for item in items:
            if isinstance(item, UnreadableEvent):
                self._hold_unreadable(item)
                break
            try:
                await self._publish(item)
            except PublishError:  # before AMQPError, which it is: the broker's basic.return
                self._hold_returned(item)
                break
            except BROKER_FAILURES as error:
                log.warning("publish of event %s failed, will retry: %r", item.envelope.event_id, error)
                return _Outcome(confirmed, failed=True)
            except asyncio.CancelledError:
                if _being_cancelled():
                    raise
                # aio-pika cancels the publishes in flight when the broker connection breaks.
                log.warning(
                    "publish of event %s lost with the connection, will retry", item.envelope.event_id
                )
                return _Outcome(confirmed, failed=True)
            if not confirmed:
                self._release(stream_id)
            confirmed.append(item)
        return _Outcome(confirmed, failed=False)

    def _hold_returned(self, item: PendingEvent) -> None:
        metrics.RELAY_RETURNED.inc()
        envelope = item.envelope
        if self._held.hold(envelope.stream_id, "returned"):
            log.warning(
                "event %s (stream %s, version %d) returned unrouted: no queue is bound for %r; "
                "its stream waits and tries again",
                envelope.event_id,
                envelope.stream_id,
                envelope.version,
                routing_key(envelope.event.type),
            )

    def _hold_unreadable(self, item: UnreadableEvent) -> None:
        if self._held.hold(item.stream_id, "unreadable"):
            log.error(
                "stream %s held back: its event at version %d (seq %d) cannot be read (%s); "
                "its later events wait until the row is repaired, other streams go on",
                item.stream_id,
                item.version,
                item.seq,
                item.reason,
            )

    def _release(self, stream_id: UUID) -> None:
        hold = self._held.release(stream_id)
        if hold is not None:
            log.info("stream %s published again after %d tries (%s)", stream_id, hold.tries, hold.reason)

    async def _publish(self, item: PendingEvent) -> None:
        body = item.envelope.model_dump_json(exclude={"position"}).encode()
        message = outgoing(body, item.metadata)
        # What the query service's partitions are hashed by (messaging.topology).
        message.headers[topology.PARTITION_HEADER] = str(item.envelope.partition_key)
        if item.envelope.position is not None:
            message.headers[topology.POSITION_HEADER] = item.envelope.position
        # Bounded (publishing.py): a publish lost with a broken connection must not hold the relay
        # forever. If the broker did take the event, publishing it again is harmless (readers are
        # idempotent). Mandatory: an event no queue is bound for comes back (PublishError), rather
        # than being dropped and confirmed.
        with continued(item.metadata.traceparent):
            await publish(self._exchange, message, routing_key(item.envelope.event.type), mandatory=True)

    async def run(self, conn: Connection, stopped: asyncio.Event) -> None:
        """Lead when the lock is free, then publish until ``stopped``; ``conn`` holds lock and LISTEN."""
        while not stopped.is_set():
            if await conn.fetchval("SELECT pg_try_advisory_lock($1)", RELAY_LOCK):
                break
            await first_of([stopped], self._poll_interval)
        else:
            return
        log.info("relay leading: publishing events")
        await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
        conn.add_termination_listener(self._on_notify)
        try:
            while not stopped.is_set():
                if conn.is_closed():
                    # The lock went with the connection: another replica may lead now.
                    raise LeadershipLost("the relay's database connection closed")
                self._wake.clear()
                batch = await self._publish_batch()
                if batch.more:
                    continue
                ended = asyncio.get_running_loop().time() if batch.confirmed else None
                await first_of([self._wake, stopped], self._poll_interval)
                await self._paced(ended, stopped)
        finally:
            # Another replica may lead now, and finds what it must hold back by itself.
            self._held.clear()
            self._held.report()
            if not conn.is_closed():
                await conn.remove_listener(NOTIFY_CHANNEL, self._on_notify)
                await conn.execute("SELECT pg_advisory_unlock($1)", RELAY_LOCK)

    async def _paced(self, ended: float | None, stopped: asyncio.Event) -> None:
        """Wait out the rest of ``round_interval`` since the last round that published ``ended``: what
        commits meanwhile joins the next round. After a quiet moment (or a round that published
        nothing), nothing is left to wait."""
        if ended is None or not self._round_interval:
            return
        rest = ended + self._round_interval - asyncio.get_running_loop().time()
        if rest > 0:
            await first_of([stopped], rest)

    async def supervise(self, pool: asyncpg.Pool, stopped: asyncio.Event) -> None:
        """Run the relay until ``stopped``, starting again on a fresh connection after a failure."""
        while not stopped.is_set():
            try:
                async with session(pool) as conn:
                    await self.run(conn, stopped)
            except asyncio.CancelledError:
                if _being_cancelled():
                    raise
                log.warning("relay interrupted by a broken connection; restarting")
            except Exception:
                log.exception("relay failed; restarting in %.1f s", self._poll_interval)
                await first_of([stopped], self._poll_interval)

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()


def _stream_of(item: PendingEvent | UnreadableEvent) -> UUID:
    return item.stream_id if isinstance(item, UnreadableEvent) else item.envelope.stream_id


def _being_cancelled() -> bool:
    """Whether this task itself is being cancelled (rather than an awaited future it did not own)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
