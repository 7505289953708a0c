"""The read model's operations, asked like queries: start a rebuild, say how it goes, verify a stream.

A rebuild runs in the process that projects: the request is handed on through the event queue, whose
single active consumer is that process (rebuild.py says why it must be).
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import assert_never
from uuid import UUID

from cqrs_contracts import (
    EventEnvelope,
    GetProjectionStatus,
    Operation,
    ProjectionStatus,
    RebuildProgress,
    RebuildReadModel,
    StreamCheck,
    StreamPosition,
    VerifyStream,
)
from query_service.errors import ForgedToken, NotFound, RebuildNeedsOneReplica, RebuildRunning, ViewBehind
from query_service.operations import verify
from query_service.operations.verify import Fold
from query_service.projection.consistency import Consistency
from query_service.projection.repair import ReadStream, pages
from query_service.read_model import control
from query_service.read_model.model import ReadModel


@dataclass(frozen=True)
class Operations:
    model: ReadModel
    read_stream: ReadStream
    consistency: Consistency
    hand_on_rebuild: Callable[[], Awaitable[None]]
    # Query replicas that share the projecting (Subscription.shared; 1 with one partition): a
    # rebuild builds from the events one process projects, so it needs that process to project them all.
    projecting_replicas: Callable[[], int] = lambda: 1

    async def answer(self, operation: Operation) -> ProjectionStatus | StreamCheck:
        if isinstance(operation, RebuildReadModel):
            return await self.rebuild()
        if isinstance(operation, GetProjectionStatus):
            return await self.status()
        if isinstance(operation, VerifyStream):
            return await self.verify(operation.stream_id)
        assert_never(operation)

    async def status(self) -> ProjectionStatus:
        db = self.model.db
        progress = await control.rebuild(db)
        return ProjectionStatus(
            generation=await control.generation(db), rebuild=progress, running=control.running(progress)
        )

    async def rebuild(self) -> ProjectionStatus:
        """Record the request and hand it to the projecting process; refused while a rebuild runs."""
        db = self.model.db
        replicas = self.projecting_replicas()
        if replicas > 1:
            raise RebuildNeedsOneReplica(
                f"{replicas} query replicas share the event partitions; a rebuild sees only the events "
                "of the replica that runs it: scale the query service to one replica, then rebuild"
            )
        previous = await control.rebuild(db)
        if previous is not None and control.running(previous):
            raise RebuildRunning(
                f"a rebuild into generation {previous.target} is {previous.state} "
                f"(runner {previous.runner or 'not yet started'}, {previous.streams_done} streams done); "
                "follow it with `cqrs projection status`"
            )
        current = await control.generation(db)
        now = datetime.now(UTC)
        target = control.target_of(previous, current)
        started = control.started_of(previous, target, now)
        requested = RebuildProgress(
            state="requested", target=target, runner="", started_at=started, updated_at=now
        )
        await control.save_rebuild(db, requested)
        await self.hand_on_rebuild()
        return ProjectionStatus(generation=current, rebuild=requested, running=True)

    async def verify(self, stream_id: UUID) -> StreamCheck:
        """Fold the stream a page at a time, comparing and letting go of each document a page leaves
        alone; then the rest. When the read model moved on meanwhile, read on and fold once more."""
        fold = Fold(stream_id)
        await self._fold_pages(fold)
        if fold.version == 0:
            raise NotFound(f"stream {stream_id} is not in the event store")
        for attempt in (1, 2):
            found = await verify.stored(self.model.store, fold.open)
            if attempt == 2 or not verify.ahead(fold.open, found):
                break
            await self._fold_pages(fold)
        fold.compare(dict(fold.open), found, final=True)
        return fold.check()

    async def _fold_pages(self, fold: Fold) -> None:
        """Fold the events after ``fold``'s version, a page at a time, each settled and compared."""
        async for page in pages(self.read_stream, fold.stream_id, fold.version):
            fold.add(page)
            # A view that stays behind is what verify reports (Fold.settling).
            fold.settling = fold.settling and await self._settle(page[-1])  # pages come in version order
            unchanged = fold.unchanged()
            fold.compare(unchanged, await verify.stored(self.model.store, unchanged))

    async def _settle(self, last: EventEnvelope) -> bool:
        """Give the projector its usual bound to apply what the fold holds (else it is a difference);
        whether it did."""
        wanted = StreamPosition(stream_type=last.stream_type, stream_id=last.stream_id, version=last.version)
        try:
            await self.consistency.wait_for((wanted,))
        except (ViewBehind, ForgedToken):  # behind, or so far behind a token could not ask for it
            return False
        return True
