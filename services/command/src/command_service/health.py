"""The command service's readiness: broker, database, migrations; and the outbox gauges it reads."""

import asyncio
from dataclasses import dataclass

import asyncpg

from command_service import metrics
from command_service.migrate import missing
from command_service.store import PostgresEventStore
from cqrs_shared.observability.readiness import Check, Outbox, Readiness


@dataclass(frozen=True)
class CommandHealth:
    pool: asyncpg.Pool
    store: PostgresEventStore
    broker_up: asyncio.Event

    async def refresh(self) -> tuple[int, float]:
        """Read the outbox backlog into the gauges; (events, age of the oldest in seconds)."""
        backlog, age = await self.store.outbox()
        metrics.OUTBOX_BACKLOG.set(backlog)
        metrics.OUTBOX_OLDEST_AGE.set(age)
        return backlog, age

    async def readiness(self) -> Readiness:
        broker = Check.when(self.broker_up.is_set(), "broker connection down")
        try:
            pending = await missing(self.pool)
            backlog, age = await self.refresh()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            down = Check(ok=False, reason=f"database unreachable: {type(error).__name__}")
            unknown = Check(ok=False, reason="unknown")
            return Readiness.of("command", {"broker": broker, "database": down, "migrations": unknown})
        migrations = Check.when(not pending, f"not applied: {', '.join(pending)}")
        outbox = Outbox(backlog=backlog, oldest_age_seconds=round(age, 3))
        checks = {"broker": broker, "database": Check(ok=True), "migrations": migrations}
        return Readiness.of("command", checks, outbox)

    async def refresh_metrics(self) -> None:
        await self.refresh()
