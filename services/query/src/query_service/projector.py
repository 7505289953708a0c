"""Apply one event to the read model, repairing a gap from the command side when one shows."""

import logging
from collections.abc import Awaitable, Callable
from uuid import UUID

from cqrs_shared.contracts import EventEnvelope
from query_service.errors import RepairFailed
from query_service.projections import project
from query_service.store import Applied, Gap, ReadStore

log = logging.getLogger(__name__)

ReadStream = Callable[[UUID, int], Awaitable[list[EventEnvelope]]]


async def apply(envelope: EventEnvelope, store: ReadStore, read_stream: ReadStream) -> Applied:
    """Apply ``envelope`` exactly once in effect; on a gap, fill it from the stream first."""
    outcome = await store.apply(project(envelope))
    if not isinstance(outcome, Gap):
        return outcome
    log.info(
        "gap in %s %s: view at %d, event is %d; reading the stream",
        envelope.stream_type,
        envelope.stream_id,
        outcome.current,
        envelope.version,
    )
    missing = await read_stream(envelope.stream_id, outcome.current)
    if not any(item.version == envelope.version for item in missing):
        raise RepairFailed(f"stream {envelope.stream_id} has no version {envelope.version} yet")
    for item in sorted(missing, key=lambda event: event.version):
        result = await store.apply(project(item))
        if isinstance(result, Gap):
            raise RepairFailed(f"stream {item.stream_id} still has a gap at {result.current}")
        if item.version == envelope.version:
            return Applied.APPLIED
    return Applied.APPLIED
