"""Python's cyclic garbage collector: its pauses measured, and what a service built at start kept out
of them.

    watch_pauses()   each collection's pause, by generation, into cqrs_gc_pause_seconds
    settle()         at "ready": collect once, then freeze what survives (modules, classes, settings,
                     pools), so that a full collection walks only what was made since

Why: a full collection stops the event loop while it walks every tracked object. In the query
service during a 12-minute soak that was up to 170,000 objects and 100-350 ms per full collection, about
once a minute, on this project's 2-core machine; about half of those objects were made at start and
live as long as the process (docs/performance.md, "The soak's lag spikes"). The price: a frozen
object that later becomes part of a garbage cycle is never collected. Start-up builds what the
process keeps (a reconnect reuses the connection objects), so that is at most a little per outage.
"""

import gc
import time
from typing import Any

from prometheus_client import Histogram

PAUSE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

PAUSES = Histogram(
    "cqrs_gc_pause_seconds",
    "Pauses of Python's cyclic garbage collector (the event loop stands still), by generation",
    ["generation"],
    buckets=PAUSE_BUCKETS,
)


class _Timer:
    """A gc callback: the time from each collection's start to its stop, observed by generation."""

    def __init__(self) -> None:
        self._started = 0.0
        self._by_generation = [PAUSES.labels(generation=str(number)) for number in range(3)]

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        generation = info.get("generation", 2)
        if 0 <= generation < len(self._by_generation):
            self._by_generation[generation].observe(time.perf_counter() - self._started)


_TIMER = _Timer()


def watch_pauses() -> None:
    """Time every collection from now on (once per process, however often it is called)."""
    if _TIMER not in gc.callbacks:
        gc.callbacks.append(_TIMER)


def settle() -> int:
    """Collect what start-up left behind, then freeze the survivors; returns how many were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
