"""How a figure is measured: a closed loop of N clients, or an open loop at a fixed rate.

Every loop warms up first (not counted), then runs for at least ``seconds`` and at least
MIN_SAMPLES operations, and stops at ``cap`` seconds whatever happens.
"""

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

MIN_SAMPLES = 1_000  # per figure; --min-samples lowers it for a quick check of the bench itself
# An operation may return its own latency (seconds) when the time to count is not its whole run.
Operation = Callable[[int], Awaitable[float | None]]


@dataclass
class Timed:
    """The latencies (seconds) of the operations one loop completed, and how long it ran."""

    samples: list[float] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def per_s(self) -> float:
        return len(self.samples) / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.samples)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples) if self.samples else float("nan")


class Counter:
    """Hands out operation numbers; one sequence over warm-up and measure, so ids never repeat."""

    def __init__(self) -> None:
        self.next = 0

    def take(self) -> int:
        self.next += 1
        return self.next - 1


async def warm_up(operation: Operation, concurrency: int, seconds: float, counter: Counter) -> None:
    """The closed loop for ``seconds``, nothing counted."""
    await _loop(operation, concurrency, seconds, seconds, counter, None)


async def closed_loop(
    operation: Operation,
    concurrency: int,
    seconds: float,
    cap: float,
    counter: Counter,
    least: int = MIN_SAMPLES,
) -> Timed:
    """``concurrency`` clients, each starting its next operation when its last one is answered."""
    timed = Timed()
    await _loop(operation, concurrency, seconds, cap, counter, timed, least)
    return timed


async def _loop(
    operation: Operation,
    concurrency: int,
    seconds: float,
    cap: float,
    counter: Counter,
    timed: Timed | None,
    least: int = MIN_SAMPLES,
) -> None:
    began = time.perf_counter()
    enough_at = began + seconds
    stop_at = began + cap

    def more() -> bool:
        now = time.perf_counter()
        if now >= stop_at:
            return False
        return now < enough_at or (timed is not None and len(timed.samples) < least)

    async def client() -> None:
        while more():
            start = time.perf_counter()
            took = await operation(counter.take())
            if timed is not None:
                timed.samples.append(time.perf_counter() - start if took is None else took)

    await asyncio.wait_for(asyncio.gather(*(client() for _ in range(concurrency))), cap + 30)
    if timed is not None:
        timed.elapsed = time.perf_counter() - began


async def open_loop(
    operation: Operation, rate: float, seconds: float, cap: float, counter: Counter, least: int = MIN_SAMPLES
) -> Timed:
    """One operation every 1/``rate`` s whatever the answers, until ``seconds`` and ``least`` sent."""
    timed = Timed()
    began = time.perf_counter()
    running: set[asyncio.Task[None]] = set()

    async def one(n: int) -> None:
        start = time.perf_counter()
        took = await operation(n)
        timed.samples.append(time.perf_counter() - start if took is None else took)

    sent = 0
    while True:
        now = time.perf_counter() - began
        if now >= cap or (now >= seconds and sent >= least):
            break
        task = asyncio.create_task(one(counter.take()))
        running.add(task)
        task.add_done_callback(running.discard)
        sent += 1
        await asyncio.sleep(max(0.0, began + sent / rate - time.perf_counter()))
    if running:
        await asyncio.wait_for(asyncio.gather(*running), 60)
    timed.elapsed = time.perf_counter() - began
    return timed
