"""Wait, bounded, until the view has every stream position a query asks for.

The projector says when a stream moved, so a waiting query in the same process re-checks at once;
a slow poll covers what other replicas project.
"""

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from uuid import UUID

from cqrs_contracts import StreamPosition
from cqrs_shared.runtime.waiting import first_of
from query_service import metrics
from query_service.errors import ForgedToken, ViewBehind
from query_service.read_model.model import ReadModel

POLL_SECONDS = 0.25
# Queries waiting at once, per process: a quarter of the default prefetch (64), so a flood of tokens
# no projection will reach (32 unknown positions each, polled for CQRS_MAX_WAIT) holds at most this
# many slots, and the other queries are served (issue 20). One more is answered view_behind at once.
MAX_WAITING = 16
# A position further ahead of the view than this was not issued by a command reply to a live view.
MAX_AHEAD = 10_000


class Consistency:
    def __init__(self, model: ReadModel, max_wait: float) -> None:
        self._model = model
        self._max_wait = max_wait
        # stream id -> (event set when it next moves, how many queries watch it)
        self._watched: dict[UUID, tuple[asyncio.Event, int]] = {}
        self._waiting = 0
        # Why no query can be answered from the view yet (it is catching up: CatchUp.behind).
        self.catching_up: Callable[[], str | None] = lambda: None

    def moved(self, stream_id: UUID) -> None:
        """The projector applied an event of ``stream_id``: wake whoever waits for it."""
        watched = self._watched.get(stream_id)
        if watched is not None:
            event, watchers = watched
            event.set()
            self._watched[stream_id] = (asyncio.Event(), watchers)

    async def wait_for(self, positions: tuple[StreamPosition, ...]) -> None:
        """Return once the view has each stream at least at its version; else raise ViewBehind."""
        if not positions:
            return
        started = time.monotonic()
        deadline = started + self._max_wait
        counted = False  # among the waiting queries (MAX_WAITING), from its first wait on
        try:
            with self._watching({p.stream_id for p in positions}):
                while True:
                    # Take the wake-up events before reading, so a move between the read and the
                    # wait is not missed.
                    moves = [self._watched[p.stream_id][0] for p in positions]
                    behind = await self._behind(positions)
                    waited = time.monotonic() - started
                    if not behind:
                        metrics.CONSISTENCY_WAITS.labels("waited" if counted else "immediate").inc()
                        metrics.CONSISTENCY_WAIT.observe(waited)
                        return
                    left = deadline - time.monotonic()
                    if left <= 0:
                        metrics.CONSISTENCY_WAITS.labels("view_behind").inc()
                        raise ViewBehind(
                            f"the view is behind after waiting {self._max_wait:g} s: {'; '.join(behind)}"
                        )
                    if not counted:
                        self._count_in(behind[0])
                        counted = True
                    await first_of(moves, min(left, POLL_SECONDS))
        finally:
            if counted:
                self._waiting -= 1

    def _count_in(self, behind: str) -> None:
        """One more waiting query, or ViewBehind at once when MAX_WAITING already wait."""
        if self._waiting >= MAX_WAITING:
            metrics.CONSISTENCY_WAITS.labels("too_many_waiting").inc()
            raise ViewBehind(f"{self._waiting} queries already wait for the view; ask again: {behind}")
        self._waiting += 1

    async def _behind(self, positions: tuple[StreamPosition, ...]) -> list[str]:
        found = []
        store = self._model.store
        for wanted in positions:
            # What this process applied needs no read (the projector and queries share the process).
            have = store.known.of(wanted.stream_id)
            if have < wanted.version:
                have = await store.position(wanted.stream_type, wanted.stream_id)
            if wanted.version > have + MAX_AHEAD:
                raise ForgedToken(
                    f"{wanted.stream_type} {wanted.stream_id} is at {have}; version {wanted.version} is "
                    f"more than {MAX_AHEAD} ahead: not a token this pair issued"
                )
            if have < wanted.version:
                found.append(
                    f"{wanted.stream_type} {wanted.stream_id} is at {have}, not yet {wanted.version}"
                )
        return found

    @contextlib.contextmanager
    def _watching(self, streams: set[UUID]) -> Iterator[None]:
        for stream_id in streams:
            event, watchers = self._watched.get(stream_id, (asyncio.Event(), 0))
            self._watched[stream_id] = (event, watchers + 1)
        try:
            yield
        finally:
            for stream_id in streams:
                event, watchers = self._watched[stream_id]
                if watchers == 1:
                    del self._watched[stream_id]
                else:
                    self._watched[stream_id] = (event, watchers - 1)
