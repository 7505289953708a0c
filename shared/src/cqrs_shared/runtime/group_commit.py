"""Group commit per key: work on one key runs one at a time, in arrival order, and what queues while
the key is busy runs together.

batches = GroupCommit(locks, together=apply_many, alone=apply_one, most=100)
result = await batches.submit(key, item)   # this item's own result, or its own exception

Whoever gets the key next takes every item waiting for it (up to ``most``) and hands them to
``together``; where that returns None (they cannot go together, or it raised), each goes to ``alone``
in order, and each item's result or exception is its own. Nothing waits on purpose: an item that
finds its key free runs at once, alone. ``locks`` is shared with whatever else must keep the key's
work away (a rebuild, a process manager); they wait their turn like an item.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from cqrs_shared.runtime.keyed_lock import KeyedLock

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class GroupInterrupted(Exception):
    """The task running this item with others was cancelled first (the service stops): the item was
    not run, and its message should go back to the broker."""


class GroupCommit(Generic[T, R]):
    def __init__(
        self,
        locks: KeyedLock,
        *,
        together: Callable[[list[T]], Awaitable[list[R] | None]],
        alone: Callable[[T], Awaitable[R]],
        most: int,
    ) -> None:
        self._locks = locks
        self._together = together
        self._alone = alone
        self._most = most
        # Items that arrived while their key was busy, in arrival order, each with its result.
        self._waiting: dict[str, list[tuple[T, asyncio.Future[R]]]] = {}

    async def submit(self, key: str, item: T) -> R:
        """Run ``item`` under ``key``, together with others where they queued; its result."""
        mine: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append((item, mine))
        try:
            async with self._locks.hold(key):
                while not mine.done():
                    await self._next(key)
        except asyncio.CancelledError:  # the service stops, or the message's channel was lost
            self._forget(key, mine)
            raise
        return mine.result()

    async def _next(self, key: str) -> None:
        """The oldest items waiting for ``key`` (the caller holds it), each result on its future."""
        waiting = self._waiting[key]
        taken, waiting[:] = waiting[: self._most], waiting[self._most :]
        if not waiting:
            del self._waiting[key]
        try:
            results = await self._run_together([item for item, _ in taken]) if len(taken) > 1 else None
            if results is not None:
                for (_, outcome), result in zip(taken, results, strict=True):
                    if not outcome.done():  # else its caller was cancelled meanwhile
                        outcome.set_result(result)
                return
            for item, outcome in taken:
                if not outcome.done():  # else its caller was cancelled: its message goes back
                    await _settle(outcome, self._alone(item))
        finally:  # cancelled: the others were not run, and their callers hear so
            for _, outcome in taken:
                if not outcome.done():
                    outcome.set_exception(GroupInterrupted("stopped before this item was run"))

    def _forget(self, key: str, mine: "asyncio.Future[R]") -> None:
        """The caller of ``mine`` was cancelled: its item, if not yet taken, is not run; and an outcome
        nobody will read is not logged as lost (before: "Future exception was never retrieved",
        GroupInterrupted, 20 lines at each node loss of the cluster test)."""
        waiting = self._waiting.get(key, [])
        waiting[:] = [entry for entry in waiting if entry[1] is not mine]
        if not waiting:
            self._waiting.pop(key, None)
        if not mine.cancel() and not mine.cancelled():
            mine.exception()  # marks it read

    async def _run_together(self, items: list[T]) -> list[R] | None:
        try:
            return await self._together(items)
        except Exception:  # each item then meets the failure alone, as it would one by one
            log.debug("%d items failed together; running them one by one", len(items), exc_info=True)
            return None


async def _settle(outcome: "asyncio.Future[R]", running: Awaitable[R]) -> None:
    """Put what ``running`` gave, or raised, on ``outcome``: an item's failure is its own."""
    try:
        result = await running
    except Exception as error:  # handed to the item's own caller, which raises it
        if not outcome.done():  # else its caller was cancelled meanwhile
            outcome.set_exception(error)
        return
    if not outcome.done():
        outcome.set_result(result)
