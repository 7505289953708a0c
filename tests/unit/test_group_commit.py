"""Group commit per key (cqrs_shared.runtime.group_commit): arrival order, what queued goes together,
each item's own result or failure, and a holder cancelled half-way."""

import asyncio
import gc

import pytest

from cqrs_shared.runtime.group_commit import GroupCommit, GroupInterrupted
from cqrs_shared.runtime.keyed_lock import KeyedLock


class Recorder:
    """Runs items by recording them; ``refuse`` makes ``together`` say no, ``bad`` fails an item."""

    def __init__(self, *, refuse: bool = False, bad: int | None = None, raise_together: bool = False) -> None:
        self.calls: list[tuple[str, list[int]]] = []
        self.refuse, self.bad, self.raise_together = refuse, bad, raise_together
        self.gate = asyncio.Event()  # cleared: the running call waits there
        self.gate.set()
        self.started = asyncio.Event()

    async def together(self, items: list[int]) -> list[str] | None:
        self.calls.append(("together", items))
        self.started.set()
        await asyncio.sleep(0)  # as any I/O: the others arrive meanwhile
        await self.gate.wait()
        if self.raise_together:
            raise RuntimeError("the batch failed")
        return None if self.refuse else [f"t{item}" for item in items]

    async def alone(self, item: int) -> str:
        self.calls.append(("alone", [item]))
        self.started.set()
        await asyncio.sleep(0)
        await self.gate.wait()
        if item == self.bad:
            raise ValueError(f"item {item} is bad")
        return f"a{item}"


def batches(recorder: Recorder, locks: KeyedLock | None = None) -> GroupCommit[int, str]:
    return GroupCommit(locks or KeyedLock(), together=recorder.together, alone=recorder.alone, most=3)


async def test_an_item_on_a_free_key_runs_at_once_alone() -> None:
    recorder = Recorder()
    assert await batches(recorder).submit("k", 1) == "a1"
    assert recorder.calls == [("alone", [1])]


async def test_what_queues_behind_a_busy_key_goes_together_in_arrival_order_at_most_most() -> None:
    recorder = Recorder()
    group = batches(recorder)
    results = await asyncio.gather(*(group.submit("k", n) for n in range(1, 6)), group.submit("other", 9))
    assert results == ["a1", "t2", "t3", "t4", "a5", "a9"]
    # The first found the key free; the next three queued (most=3); the last went alone after them.
    assert recorder.calls == [("alone", [1]), ("alone", [9]), ("together", [2, 3, 4]), ("alone", [5])]


@pytest.mark.parametrize("recorder", [Recorder(refuse=True, bad=3), Recorder(raise_together=True, bad=3)])
async def test_items_that_cannot_go_together_go_one_by_one_each_with_its_own_failure(
    recorder: Recorder,
) -> None:
    group = batches(recorder)
    results = await asyncio.gather(*(group.submit("k", n) for n in range(1, 5)), return_exceptions=True)
    assert results[0] == "a1"
    assert results[1] == "a2"
    assert isinstance(results[2], ValueError)
    assert results[3] == "a4"
    assert recorder.calls[1:] == [("together", [2, 3, 4]), ("alone", [2]), ("alone", [3]), ("alone", [4])]


async def test_a_holder_cancelled_half_way_tells_the_others_they_were_not_run() -> None:
    recorder, locks = Recorder(), KeyedLock()
    group = batches(recorder, locks)
    async with locks.hold("k"):  # busy: the next items queue
        tasks = [asyncio.create_task(group.submit("k", n)) for n in (1, 2, 3)]
        await asyncio.sleep(0)
        recorder.gate.clear()
    await recorder.started.wait()  # the first takes all three and starts
    tasks[0].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    assert all(isinstance(result, GroupInterrupted) for result in results[1:])
    recorder.gate.set()
    assert await group.submit("k", 4) == "a4"  # nothing left behind


async def test_callers_cancelled_while_queued_leave_no_item_run_and_no_unread_outcome() -> None:
    """As when a channel is lost: every caller of a key is cancelled at once, the holder among them.
    Before, the queued callers' items ran for nobody, and their GroupInterrupted was logged as
    "Future exception was never retrieved" (20 lines at each node loss of the cluster test)."""
    recorder, locks = Recorder(), KeyedLock()
    group = batches(recorder, locks)
    unread: list[str] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _, context: unread.append(context["message"]))
    try:
        recorder.gate.clear()
        holder = asyncio.create_task(group.submit("k", 1))
        await recorder.started.wait()  # 1 runs alone, and waits at the gate
        queued = [asyncio.create_task(group.submit("k", n)) for n in (2, 3, 4)]
        await asyncio.sleep(0)
        queued[1].cancel()  # one caller alone first
        await asyncio.sleep(0)
        for task in (holder, *queued):
            task.cancel()
        results = await asyncio.gather(holder, *queued, return_exceptions=True)
        assert all(isinstance(result, asyncio.CancelledError) for result in results)
        recorder.gate.set()
        assert await group.submit("k", 5) == "a5"  # the next caller runs its own item only
        assert recorder.calls == [("alone", [1]), ("alone", [5])]
        del holder, queued, results  # their tracebacks hold the callers' frames
        gc.collect()
    finally:
        loop.set_exception_handler(None)
    assert unread == []
