"""The transfer processes' table on the real PostgreSQL: recorded once, moved under the row's lock,
due again with backoff, skipped while another replica holds it, stuck past the budget."""

import asyncio
from dataclasses import replace
from decimal import Decimal
from uuid import UUID, uuid4

import asyncpg

from command_service.process.store import ProcessStore, Tracked
from command_service.process.transfers import Process, Stage


def tracked(transfer_id: UUID | None = None) -> Tracked:
    process = Process(
        transfer_id=transfer_id or uuid4(),
        from_account_id=uuid4(),
        to_account_id=uuid4(),
        amount=Decimal("12.50"),
        reference="rent",
        stage="debit",
    )
    return Tracked(process, correlation_id="conversation", traceparent=None, cause=str(uuid4()))


def to(stage: Stage) -> "Move":
    return Move(stage)


class Move:
    """A pure move to ``stage``, counting its calls."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self.calls = 0

    def __call__(self, process: Process) -> Process | None:
        self.calls += 1
        return None if process.stage == self.stage else replace(process, stage=self.stage)


async def test_a_process_is_recorded_once_with_its_amount_exact(pool: asyncpg.Pool) -> None:
    store, new = ProcessStore(pool), tracked()
    assert await store.start(new, due_in=5)
    again = replace(new, process=replace(new.process, amount=Decimal("99")))
    assert not await store.start(again, due_in=5)
    got = await store.get(new.process.transfer_id)
    assert got == new
    assert got is not None
    assert str(got.process.amount) == "12.50"


async def test_a_move_is_written_with_its_cause_and_a_move_to_where_it_stands_writes_nothing(
    pool: asyncpg.Pool,
) -> None:
    store, new = ProcessStore(pool), tracked()
    await store.start(new, due_in=5)
    transfer_id = new.process.transfer_id
    moved = await store.advance(transfer_id, to("mark"), "event-1", due_in=5)
    assert moved is not None
    assert (moved.process.stage, moved.cause, moved.correlation_id) == ("mark", "event-1", "conversation")
    assert await store.advance(transfer_id, to("mark"), "event-2", due_in=5) is None
    assert await store.get(transfer_id) == moved
    assert await store.advance(uuid4(), to("mark"), "event-3", due_in=5) is None


async def test_moves_of_one_transfer_take_turns_on_its_row(pool: asyncpg.Pool) -> None:
    store, new = ProcessStore(pool), tracked()
    await store.start(new, due_in=5)
    transfer_id = new.process.transfer_id
    moves = [to("mark") for _ in range(8)]
    results = await asyncio.gather(*(store.advance(transfer_id, m, str(i), 5) for i, m in enumerate(moves)))
    # Each saw the row as the one before left it: exactly one moved it.
    assert sum(result is not None for result in results) == 1


async def test_a_done_process_is_never_due_and_a_due_one_backs_off(pool: asyncpg.Pool) -> None:
    store = ProcessStore(pool)
    due, later, done = tracked(), tracked(), tracked()
    await store.start(due, due_in=0)
    await store.start(later, due_in=60)
    await store.start(done, due_in=0)
    await store.advance(done.process.transfer_id, to("done"), "end", due_in=0)
    picked = await store.due(limit=100, timeout=5)
    assert [t.process.transfer_id for t in picked] == [due.process.transfer_id]
    assert await store.due(limit=100, timeout=5) == []  # due again only after its backoff
    row = await pool.fetchrow(
        "SELECT attempts, due_at - now() AS wait FROM transfer_processes WHERE transfer_id = $1",
        due.process.transfer_id,
    )
    assert row is not None
    assert row["attempts"] == 1
    assert 9 < row["wait"].total_seconds() <= 10  # backoff(1, 5)
    moved = await store.advance(due.process.transfer_id, to("mark"), "event", due_in=5)
    assert moved is not None
    assert moved.attempts == 0  # a move starts the stage's count afresh


async def test_a_process_another_replica_holds_is_skipped_by_the_sweep(pool: asyncpg.Pool) -> None:
    store, held = ProcessStore(pool), tracked()
    await store.start(held, due_in=0)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "SELECT 1 FROM transfer_processes WHERE transfer_id = $1 FOR UPDATE", held.process.transfer_id
        )
        assert held.process.transfer_id not in [t.process.transfer_id for t in await store.due(100, 5)]
    assert held.process.transfer_id in [t.process.transfer_id for t in await store.due(100, 5)]


async def test_an_unfinished_process_past_its_budget_is_stuck(pool: asyncpg.Pool) -> None:
    store, slow, done = ProcessStore(pool), tracked(), tracked()
    await store.start(slow, due_in=5)
    await store.start(done, due_in=5)
    await store.advance(done.process.transfer_id, to("done"), "end", due_in=5)
    await asyncio.sleep(0.05)
    assert await store.stuck(budget=0.01) == [slow.process.transfer_id]
    assert await store.stuck(budget=60) == []
