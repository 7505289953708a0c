"""The read model's operations, asked like queries: start a rebuild, say how it goes, verify a stream.

A rebuild runs in the process that projects: the request is handed on through the event queue, whose
single active consumer is that process (rebuild.py says why it must be).
"""

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from cqrs_shared.contracts import (
    EventEnvelope,
    GetProjectionStatus,
    ProjectionStatus,
    RebuildProgress,
    RebuildReadModel,
    StreamCheck,
    StreamPosition,
    VerifyStream,
)
from query_service import control, verify
from query_service.consistency import Consistency
from query_service.errors import NotFound, RebuildNeedsOneReplica, RebuildRunning, ViewBehind
from query_service.model import ReadModel
from query_service.projector import ReadStream

Operation = RebuildReadModel | GetProjectionStatus | VerifyStream


@dataclass(frozen=True)
class Operations:
    model: ReadModel
    read_stream: ReadStream
    consistency: Consistency
    hand_on_rebuild: Callable[[], Awaitable[None]]
    # Query replicas that project partitions (1 when the events are not partitioned): a rebuild
    # builds from the events one process projects, so it needs that process to project them all.
    projecting_replicas: Callable[[], int] = lambda: 1

    async def answer(self, operation: Operation) -> ProjectionStatus | StreamCheck:
        if isinstance(operation, RebuildReadModel):
            return await self.rebuild()
        if isinstance(operation, GetProjectionStatus):
            return await self.status()
        return await self.verify(operation.stream_id)

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
        """Fold the stream and compare; when the read model moved on meanwhile, read on and fold once more."""
        events = await self._read_all(stream_id, 0)
        if not events:
            raise NotFound(f"stream {stream_id} is not in the event store")
        for attempt in (1, 2):
            expected = verify.fold(events)
            await self._settle(events[-1])
            found = await verify.stored(self.model.store, expected)
            if attempt == 2 or not verify.ahead(expected, found):
                break
            events += await self._read_all(stream_id, events[-1].version)
        return verify.check(stream_id, events, expected, found)

    async def _read_all(self, stream_id: UUID, after: int) -> list[EventEnvelope]:
        events: list[EventEnvelope] = []
        while page := await self.read_stream(stream_id, after):
            events += sorted(page, key=lambda item: item.version)
            after = events[-1].version
        return events

    async def _settle(self, last: EventEnvelope) -> None:
        """Give the projector its usual bound to apply what the fold holds (else it is a difference)."""
        wanted = StreamPosition(stream_type=last.stream_type, stream_id=last.stream_id, version=last.version)
        with contextlib.suppress(ViewBehind):
            await self.consistency.wait_for((wanted,))
