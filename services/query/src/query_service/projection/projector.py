"""Apply events to the read model, repairing a gap from the command side when one shows.

projector = Projector(model, read_stream)
await projector.handle(envelope)    # one customer document's events in order; those that queued
                                    # while it was busy, together (read_model/batches.py)
"""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

from cqrs_contracts import EventEnvelope
from cqrs_shared.runtime.group_commit import GroupCommit
from cqrs_shared.runtime.keyed_lock import KeyedLock
from query_service import metrics
from query_service.errors import RepairFailed
from query_service.projection.positions import AppliedPositions
from query_service.projection.projections import document_owner, project
from query_service.projection.repair import ReadStream, pages
from query_service.read_model.batches import apply_batch
from query_service.read_model.model import ReadModel
from query_service.read_model.store import Applied, Gap, ReadStore

log = logging.getLogger(__name__)

# The most events of one owner applied together: a catch-up's page (catchup.py) holds as many.
LIVE_BATCH = 100


class Projector:
    """Applies events concurrently across customers, one at a time for each customer's documents.

    One customer's events touch one customer document (account events embed their account in it),
    so they run in arrival order, which is the relay's order for each stream: no racing into gaps
    that each cost a repair, and no two concurrent writers of one document. Those that queue behind
    one another go together (handle). Across processes the event partition has a single active
    consumer (see messaging.topology).
    """

    def __init__(
        self, model: ReadModel, read_stream: ReadStream, positions: AppliedPositions | None = None
    ) -> None:
        self._model = model
        self._read_stream = read_stream
        self._owners = KeyedLock()
        self._batches = GroupCommit[EventEnvelope, Applied](
            self._owners, together=self._together, alone=self._apply_one, most=LIVE_BATCH
        )
        # The global positions applied, live or catching up: the read model's checkpoint.
        self.positions = positions or AppliedPositions()

    @asynccontextmanager
    async def owning(self, owner: UUID) -> AsyncIterator[None]:
        """Keep this process's other writers of ``owner``'s documents away (a rebuild takes it too)."""
        async with self._owners.hold(str(owner)):
            yield

    async def handle(self, envelope: EventEnvelope) -> Applied:
        """Apply to the generation queries read; during a rebuild, to the one it builds as well;
        after a switch, to the old one too until it is dropped (replicas may still read it).

        Group commit per owner (cqrs_shared.runtime.group_commit): the events of an owner that arrive
        while one of its events is applied wait in arrival order, and the next of them to get the
        owner applies all that wait (up to LIVE_BATCH) in as few writes as their documents allow.
        Each returns, or raises, its own outcome once its event is applied.
        """
        return await self._batches.submit(str(document_owner(envelope)), envelope)

    async def _together(self, envelopes: list[EventEnvelope]) -> list[Applied] | None:
        """One owner's events in one batch (no rebuild running, no old generation kept); None where
        they must go one by one."""
        model = self._model
        if model.building is not None or model.retiring is not None:
            return None
        store = model.store
        applied = await apply_batch(store, [change for envelope in envelopes for change in project(envelope)])
        metrics.PROJECTION_BATCHES.labels("together" if applied else "one_by_one").observe(len(envelopes))
        if not applied:
            return None
        for envelope in envelopes:
            store.known.saw(envelope.stream_id, envelope.version)
            self.positions.applied(envelope.position)
        return [Applied.APPLIED] * len(envelopes)

    async def _apply_one(self, envelope: EventEnvelope) -> Applied:
        # Taken together, before any write: a switch while this event is applied changes nothing.
        current, building, retiring = self._model.store, self._model.building, self._model.retiring
        applied = await apply(envelope, current, self._read_stream)
        if building is not None:
            if building.covers(envelope.stream_id):
                await apply(envelope, building.store, self._read_stream)
            elif building.upto is None or envelope.stream_id > building.upto:
                building.skipped[envelope.stream_id] = envelope.stream_type
        if retiring is not None:
            for change in project(envelope):
                await retiring.apply(change)  # best effort: a gap there is left as it is
        self.positions.applied(envelope.position)
        return applied

    async def handle_batch(self, envelopes: list[EventEnvelope]) -> None:
        """One owner's events, in order, in as few writes as their documents allow (a catch-up, before
        the service reads: read_model/batches.py); one by one where that does not apply whole."""
        async with self.owning(document_owner(envelopes[0])):
            model = self._model
            batched = model.building is None and model.retiring is None
            changes = [change for envelope in envelopes for change in project(envelope)]
            if not batched or not await apply_batch(model.store, changes):
                for envelope in envelopes:
                    await apply(envelope, model.store, self._read_stream)
            for envelope in envelopes:
                model.store.known.saw(envelope.stream_id, envelope.version)
                self.positions.applied(envelope.position)


async def apply(envelope: EventEnvelope, store: ReadStore, read_stream: ReadStream) -> Applied:
    """Apply every change of ``envelope`` exactly once in effect; on a gap, fill it from the stream.

    All changes are tried even when one is a duplicate: after a crash between two of them, the
    redelivered event completes what the first delivery began. The caller keeps other writers of
    the same documents away (Projector.handle).
    """
    outcomes = [await store.apply(change) for change in project(envelope)]
    gaps = [outcome.current for outcome in outcomes if isinstance(outcome, Gap)]
    if not gaps:
        store.known.saw(envelope.stream_id, envelope.version)
        return Applied.APPLIED if Applied.APPLIED in outcomes else Applied.DUPLICATE
    after = min(gaps)
    log.info(
        "gap in %s %s: view at %d, event is %d; reading the stream",
        envelope.stream_type,
        envelope.stream_id,
        after,
        envelope.version,
    )
    try:
        await _repair(envelope, after, store, read_stream)
    except RepairFailed:
        metrics.GAP_REPAIRS.labels("failed").inc()
        raise
    metrics.GAP_REPAIRS.labels("repaired").inc()
    store.known.saw(envelope.stream_id, envelope.version)
    return Applied.APPLIED


async def _repair(envelope: EventEnvelope, after: int, store: ReadStore, read_stream: ReadStream) -> None:
    """Apply the stream's events after ``after`` up to ``envelope``'s, read from the command side page
    by page (a page holds at most ReadStream.limit events): a gap of any length is filled."""
    async for page in pages(read_stream, envelope.stream_id, after, until=envelope.version):
        for item in page:
            await _apply_filled(item, store)
            after = item.version
    if after < envelope.version:
        raise RepairFailed(f"stream {envelope.stream_id} has no version {after + 1} yet")


async def _apply_filled(item: EventEnvelope, store: ReadStore) -> None:
    for change in project(item):
        if isinstance(await store.apply(change), Gap):
            raise RepairFailed(f"stream {item.stream_id} still has a gap before version {item.version}")
