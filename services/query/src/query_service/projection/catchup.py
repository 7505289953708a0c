"""Catch up from the read model's checkpoint to the event store's head, then keep the checkpoint.

catch_up = CatchUp(model, projector, read_all, positions)
await catch_up.run(stopped)        # at start, before the live events: readiness says "catching up"
await catch_up.keep(stopped, sole) # then: save the checkpoint; fill a hole that stays (sole replica)

A subscriber that starts behind (an empty read model beside an event store with history, or a
query service that was down longer than the broker kept its queue) reads the events after its
checkpoint from the command side (ReadAll, in global position order) and applies them like live
ones. The event queue is declared and bound before, so an event committed meanwhile is either at or
below the head read here, or waits in the queue: nothing is missed, and one met twice is a duplicate
the version gates make harmless.
"""

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pymongo.errors import PyMongoError

from cqrs_client.errors import BrokerUnavailable
from cqrs_contracts import EventEnvelope, PositionedEvents
from cqrs_shared.runtime.waiting import first_of
from query_service import metrics
from query_service.errors import RepairFailed
from query_service.projection.positions import AppliedPositions
from query_service.projection.projections import document_owner
from query_service.projection.projector import Projector
from query_service.read_model import checkpoint, control
from query_service.read_model.model import ReadModel

log = logging.getLogger(__name__)

# What one ReadAll asks for: the command side answers up to 1000.
PAGE = 500
# How often the checkpoint is saved while following live events, and how long a hole in the applied
# positions may stay before the sole projecting replica reads it from the command side.
SAVE_SECONDS = 1.0
FILL_AFTER_SECONDS = 5.0
# A hole is filled a small page a round, so that filling never crowds out the live events.
FILL_PAGE = 100
RETRY_SECONDS = 1.0
# What a round may fail with and be tried again: the read database, the command side (not there yet
# at start, or slow), the broker.
TRANSIENT = (PyMongoError, RepairFailed, TimeoutError, BrokerUnavailable)

ReadAll = Callable[[int, int], Awaitable[PositionedEvents]]


@dataclass
class Progress:
    """Where a catch-up stands, for readiness and for queries answered meanwhile."""

    start: int = 0
    position: int = 0
    head: int | None = None
    done: bool = False
    started: float = field(default_factory=time.monotonic)

    def describe(self) -> str:
        if self.done:
            return f"caught up at position {self.position}"
        if self.head is None:
            return f"catching up from position {self.start}: reading the event store's head"
        todo = max(self.head - self.start, 1)
        share = 100 * (self.position - self.start) / todo
        rate = (self.position - self.start) / max(time.monotonic() - self.started, 1e-3)
        return f"catching up: position {self.position} of {self.head} ({share:.0f} %, {rate:.0f} events/s)"


class CatchUp:
    def __init__(
        self, model: ReadModel, projector: Projector, read_all: ReadAll, positions: AppliedPositions
    ) -> None:
        self._model = model
        self._projector = projector
        self._read_all = read_all
        self._positions = positions
        self.progress = Progress(done=False)
        self.runner = f"{socket.gethostname()}-{os.getpid()}"

    def behind(self) -> str | None:
        """Why the read model is behind the event store (catching up), or None once it caught up."""
        return None if self.progress.done else self.progress.describe()

    async def run(self, stopped: asyncio.Event) -> None:
        """From the checkpoint to the head (or until ``stopped``), retrying a page that failed."""
        start = await checkpoint.load(self._model.db, self._model.store.generation)
        self._positions.reset(start)
        self.progress = Progress(start=start, position=start)
        reason = await self._needless()
        if reason is not None:
            log.info("no catch-up: %s", reason)
            self.progress.done = True
            return
        log.info("catching up from position %d", start)
        while not stopped.is_set():
            try:
                if await self._page(self.progress.position) < PAGE:
                    break
            except TRANSIENT as error:
                log.warning(
                    "catching up at position %d failed, trying again: %r", self.progress.position, error
                )
                await first_of([stopped], RETRY_SECONDS)
        else:
            return
        await self._save(create=True)
        self.progress.done = True
        log.info("%s (%d events read)", self.progress.describe(), self.progress.position - start)

    async def _needless(self) -> str | None:
        """Why this replica must not catch up now, if it must not."""
        unfinished = await control.rebuild(self._model.db)
        if unfinished is not None and unfinished.state in control.RUNNING:
            # The rebuild brings every event into its generation, and catching up the one it will
            # replace would only hold this replica back from resuming it (cqrs projection rebuild).
            return f"a rebuild into generation {unfinished.target} is unfinished"
        other = await checkpoint.followed_by_another(self._model.db, self.runner)
        if other is not None:
            # It keeps the read model up to date; catching up beside it would write the documents
            # it writes, which FerretDB v1 (whole-document rewrites) could lose one of.
            return f"replica {other} follows the live events"
        return None

    async def _page(self, after: int, size: int = PAGE, *, batched: bool = True) -> int:
        """Read and apply the events after ``after``; how many there were. ``batched``: in few
        writes (read_model/batches.py), only while no query reads the model."""
        page = await self._read_all(after, size)
        self.progress.head = page.head
        metrics.CATCH_UP_HEAD.set(page.head)
        await self._apply(page.events, batched)
        if page.events:
            last = page.events[-1].position
            self.progress.position = last if last is not None else after + len(page.events)
        metrics.CATCH_UP_EVENTS.inc(len(page.events))
        return len(page.events)

    async def _apply(self, events: list[EventEnvelope], batched: bool) -> None:
        """Each document owner's events in order, the owners side by side (the projector keeps each
        owner's writers one at a time)."""
        owners: dict[object, list[EventEnvelope]] = {}
        for envelope in events:
            owners.setdefault(document_owner(envelope), []).append(envelope)

        async def in_order(owned: list[EventEnvelope]) -> None:
            if batched:
                await self._projector.handle_batch(owned)
                return
            for envelope in owned:
                await self._projector.handle(envelope)

        await asyncio.gather(*(in_order(owned) for owned in owners.values()))

    async def keep(self, stopped: asyncio.Event, sole: Callable[[], bool]) -> None:
        """Until ``stopped``: save the checkpoint as it moves; where a hole in the applied positions
        stays and this replica alone projects every partition (``sole``), read the events after
        the checkpoint and apply them (a dead-lettered event, or one lost with a queue)."""
        while not stopped.is_set():
            try:
                await checkpoint.follow(self._model.db, self.runner)
                if self._filling(sole):
                    await self._page(self._positions.low, FILL_PAGE, batched=False)
                await self._save()
            except TRANSIENT as error:
                log.warning("keeping the checkpoint failed, trying again: %r", error)
            await first_of([stopped], SAVE_SECONDS)
        with contextlib.suppress(*TRANSIENT):
            await self._save()
            await checkpoint.unfollow(self._model.db, self.runner)

    def _filling(self, sole: Callable[[], bool]) -> bool:
        """Whether to fill the hole: it stayed, no other replica projects (none would race this one
        on a document), and no rebuild runs here (it brings every event in itself)."""
        stayed = self._positions.holed_for() > FILL_AFTER_SECONDS
        return stayed and self._model.building is None and sole()

    async def _save(self, *, create: bool = False) -> None:
        low = self._positions.low
        await checkpoint.save(self._model.db, self._model.store.generation, low, create=create)
        metrics.CHECKPOINT.set(low)
