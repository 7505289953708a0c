"""The transfer processes' table (migrations/005_transfer_processes.sql): each move of a process is
one transaction that holds its row (SELECT ... FOR UPDATE), so replicas take turns on one transfer.

    store = ProcessStore(pool)
    tracked = await store.advance(transfer_id, lambda p: transfers.advance(p, seen), cause, due_in=5)
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

import asyncpg

from command_service.process.transfers import STAGES, Process, Stage, backoff

_COLUMNS = (
    "transfer_id, from_account_id, to_account_id, amount, reference, stage, reason, withdrawal,"
    " deposit, correlation_id, traceparent, cause, attempts"
)


@dataclass(frozen=True)
class Tracked:
    """A process as stored: with the conversation and trace its commands carry, the id of the message
    its stage's command answers (its causation), and how often the sweeper gave that command again."""

    process: Process
    correlation_id: str
    traceparent: str | None
    cause: str
    attempts: int = 0


class ProcessStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def start(self, tracked: Tracked, due_in: float) -> bool:
        """Record a new process; False when the transfer has one already (a redelivered request)."""
        p = tracked.process
        inserted = await self._pool.fetchval(
            f"INSERT INTO transfer_processes ({_COLUMNS}, due_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0,"
            " now() + make_interval(secs => $13))"
            " ON CONFLICT (transfer_id) DO NOTHING RETURNING true",
            *_values(p),
            tracked.correlation_id,
            tracked.traceparent,
            tracked.cause,
            due_in,
        )
        return bool(inserted)

    async def get(self, transfer_id: UUID) -> Tracked | None:
        row = await self._pool.fetchrow(
            f"SELECT {_COLUMNS} FROM transfer_processes WHERE transfer_id = $1", transfer_id
        )
        return None if row is None else _tracked(row)

    async def advance(
        self, transfer_id: UUID, move: Callable[[Process], Process | None], cause: str, due_in: float
    ) -> Tracked | None:
        """Move the process by ``move`` (pure) under its row lock; the process moved, or None when
        there is no such process or ``move`` leaves it where it is (then nothing is written)."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"SELECT {_COLUMNS} FROM transfer_processes WHERE transfer_id = $1 FOR UPDATE",
                transfer_id,
            )
            if row is None:
                return None
            current = _tracked(row)
            moved = move(current.process)
            if moved is None:
                return None
            await conn.execute(
                "UPDATE transfer_processes SET stage = $2, reason = $3, withdrawal = $4, deposit = $5,"
                # Its new stage's command is due again $7 seconds from now; never once it is done
                # (the CASE reads the new stage, $2: a bare ``stage`` would be the row's old one).
                " cause = $6, attempts = 0, updated_at = now(),"
                " due_at = CASE WHEN $2 = 'done' THEN NULL ELSE now() + make_interval(secs => $7) END"
                " WHERE transfer_id = $1",
                transfer_id,
                moved.stage,
                moved.reason,
                moved.withdrawal,
                moved.deposit,
                cause,
                due_in,
            )
        return Tracked(moved, current.correlation_id, current.traceparent, cause)

    async def due(self, limit: int, timeout: float) -> list[Tracked]:
        """Processes whose stage's command is due again, at most ``limit``; each is then due again
        later, by a bounded backoff (transfers.backoff). Rows another replica holds are skipped."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                f"SELECT {_COLUMNS} FROM transfer_processes WHERE due_at <= now()"
                " ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED",
                limit,
            )
            picked = [_tracked(row) for row in rows]
            await conn.executemany(
                "UPDATE transfer_processes SET attempts = attempts + 1,"
                " due_at = now() + make_interval(secs => $2) WHERE transfer_id = $1",
                [(t.process.transfer_id, backoff(t.attempts + 1, timeout)) for t in picked],
            )
        return picked

    async def stuck(self, budget: float, limit: int = 1000) -> list[UUID]:
        """Unfinished processes started more than ``budget`` seconds ago, oldest first."""
        rows = await self._pool.fetch(
            "SELECT transfer_id FROM transfer_processes WHERE due_at IS NOT NULL"
            " AND started_at < now() - make_interval(secs => $1) ORDER BY started_at LIMIT $2",
            budget,
            limit,
        )
        return [row["transfer_id"] for row in rows]


def _values(p: Process) -> Sequence[Any]:
    return (
        p.transfer_id,
        p.from_account_id,
        p.to_account_id,
        p.amount,
        p.reference,
        p.stage,
        p.reason,
        p.withdrawal,
        p.deposit,
    )


def _tracked(row: asyncpg.Record) -> Tracked:
    stage = row["stage"]
    if stage not in STAGES:
        raise ValueError(f"transfer process {row['transfer_id']} has an unknown stage {stage!r}")
    process = Process(
        transfer_id=row["transfer_id"],
        from_account_id=row["from_account_id"],
        to_account_id=row["to_account_id"],
        amount=row["amount"],
        reference=row["reference"],
        stage=cast(Stage, stage),
        reason=row["reason"],
        withdrawal=row["withdrawal"],
        deposit=row["deposit"],
    )
    return Tracked(process, row["correlation_id"], row["traceparent"], row["cause"], row["attempts"])
