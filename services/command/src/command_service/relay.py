"""The outbox relay: publishes committed events in order, with publisher confirms.

One relay leads (a PostgreSQL advisory lock), so replicas never reorder a stream. It wakes on
LISTEN/NOTIFY and polls as a fallback. It reads "what is not yet published" rather than "what is
after the last sequence number", so a transaction that commits late with an earlier sequence
number is still published (the outbox high-water-mark bug cannot happen).
"""

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
from aio_pika.abc import AbstractExchange
from aio_pika.exceptions import AMQPError

from command_service import metrics
from command_service.ports import PendingEvent
from command_service.store import NOTIFY_CHANNEL, Connection, PostgresEventStore, session
from cqrs_shared.contracts import routing_key
from cqrs_shared.messaging import topology
from cqrs_shared.messaging.envelope import outgoing
from cqrs_shared.messaging.publishing import publish
from cqrs_shared.tracing import continued
from cqrs_shared.waiting import first_of

log = logging.getLogger(__name__)

# pg_try_advisory_lock key: "cqrsrela" as an int64.
RELAY_LOCK = 0x6371727372656C61


class LeadershipLost(Exception):
    """The connection holding the leader lock is gone; lead again only after taking it again."""


class Relay:
    def __init__(
        self,
        store: PostgresEventStore,
        exchange: AbstractExchange,
        *,
        batch_size: int = 200,
        poll_interval: float = 1.0,
    ) -> None:
        self._store = store
        self._exchange = exchange
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()

    async def publish_pending(self) -> int:
        """Publish one batch of unpublished events; return how many the broker confirmed."""
        pending = await self._store.unpublished(self._batch_size)
        streams: dict[UUID, list[PendingEvent]] = {}
        for item in pending:
            streams.setdefault(item.envelope.stream_id, []).append(item)
        published = await asyncio.gather(*(self._publish_stream(items) for items in streams.values()))
        confirmed = [seq for seqs in published for seq in seqs]
        if confirmed:
            await self._store.mark_published(confirmed)
            now = datetime.now(UTC)
            published_seqs = set(confirmed)
            for item in pending:
                if item.seq in published_seqs:
                    metrics.COMMIT_TO_PUBLISH.observe((now - item.envelope.occurred_at).total_seconds())
        return len(confirmed)

    async def _publish_stream(self, items: list[PendingEvent]) -> list[int]:
        """One stream's events strictly in order, each confirmed before the next goes out.

        Streams are published side by side. A failure stops its stream only: what follows it is
        not marked, so it goes out again, after it, on the next round.
        """
        confirmed: list[int] = []
        for item in items:
            try:
                await self._publish(item)
            except (AMQPError, RuntimeError, TimeoutError) as error:
                log.warning("publish of event %s failed, will retry: %r", item.envelope.event_id, error)
                break
            except asyncio.CancelledError:
                if _being_cancelled():
                    raise
                # aio-pika cancels the publishes in flight when the broker connection breaks.
                log.warning(
                    "publish of event %s lost with the connection, will retry", item.envelope.event_id
                )
                break
            confirmed.append(item.seq)
        return confirmed

    async def _publish(self, item: PendingEvent) -> None:
        message = outgoing(item.envelope.model_dump_json().encode(), item.metadata)
        # What the query service's partitions are hashed by (messaging.topology).
        message.headers[topology.PARTITION_HEADER] = str(item.envelope.partition_key)
        # Bounded (publishing.py): a publish lost with a broken connection must not hold the relay
        # forever. If the broker did take the event, publishing it again is harmless (readers are
        # idempotent).
        with continued(item.metadata.traceparent):
            await publish(self._exchange, message, routing_key(item.envelope.event.type))

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
                if await self.publish_pending() >= self._batch_size:
                    continue
                await first_of([self._wake, stopped], self._poll_interval)
        finally:
            if not conn.is_closed():
                await conn.remove_listener(NOTIFY_CHANNEL, self._on_notify)
                await conn.execute("SELECT pg_advisory_unlock($1)", RELAY_LOCK)

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


def _being_cancelled() -> bool:
    """Whether this task itself is being cancelled (rather than an awaited future it did not own)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
