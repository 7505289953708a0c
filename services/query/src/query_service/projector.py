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
    """Apply every change of ``envelope`` exactly once in effect; on a gap, fill it from the stream.

    All changes are tried even when one is a duplicate: after a crash between two of them, the
    redelivered event completes what the first delivery began.
    """
    outcomes = [await store.apply(change) for change in project(envelope)]
    gaps = [outcome.current for outcome in outcomes if isinstance(outcome, Gap)]
    if not gaps:
        return Applied.APPLIED if Applied.APPLIED in outcomes else Applied.DUPLICATE
    after = min(gaps)
    log.info(
        "gap in %s %s: view at %d, event is %d; reading the stream",
        envelope.stream_type,
        envelope.stream_id,
        after,
        envelope.version,
    )
    missing = [
        item for item in await read_stream(envelope.stream_id, after) if item.version <= envelope.version
    ]
    if envelope.version not in {item.version for item in missing}:
        raise RepairFailed(f"stream {envelope.stream_id} has no version {envelope.version} yet")
    for item in sorted(missing, key=lambda event: event.version):
        for change in project(item):
            if isinstance(await store.apply(change), Gap):
                raise RepairFailed(f"stream {item.stream_id} still has a gap before version {item.version}")
    return Applied.APPLIED
