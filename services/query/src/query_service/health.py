"""The query service's readiness: broker, database, caught up with the event store at start, and a
projection lag under the threshold."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from aio_pika.abc import AbstractQueue
from aio_pika.exceptions import AMQPError
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from cqrs_shared.observability.readiness import Check, Readiness
from query_service import metrics
from query_service.read_model.layout import Document


@dataclass(frozen=True)
class QueryHealth:
    db: AsyncDatabase[Document]
    events: list[AbstractQueue]
    broker_up: asyncio.Event
    max_lag: float
    catching_up: Callable[[], str | None] = lambda: None

    async def refresh(self) -> int:
        """Events waiting in the event queues (every partition), into the gauge."""
        waiting = 0
        for queue in self.events:
            waiting += (await queue.declare()).message_count or 0
        metrics.LAG_EVENTS.set(waiting)
        return waiting

    async def readiness(self) -> Readiness:
        broker = Check.when(self.broker_up.is_set(), "broker connection down")
        try:
            await self.db.command("ping")
            database = Check(ok=True)
        except PyMongoError as error:
            database = Check(ok=False, reason=f"database unreachable: {type(error).__name__}")
        behind = self.catching_up()
        checks = {
            "broker": broker,
            "database": database,
            "catch_up": Check.when(behind is None, behind or ""),
            "projection_lag": await self._lag(),
        }
        return Readiness.of("query", checks)

    async def _lag(self) -> Check:
        try:
            waiting = await self.refresh()
        except (AMQPError, RuntimeError) as error:
            return Check(ok=False, reason=f"event queue unreadable: {type(error).__name__}")
        # Caught up when nothing waits; else as far behind as the last event applied was.
        seconds = metrics.last_lag() if waiting else 0.0
        behind = seconds > self.max_lag
        reason = f"projection {seconds:.1f} s behind (limit {self.max_lag:g} s)" if behind else None
        return Check(ok=not behind, reason=reason, events=waiting, seconds=round(seconds, 3))

    async def refresh_metrics(self) -> None:
        await self.refresh()
