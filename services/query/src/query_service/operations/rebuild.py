"""Rebuild the read model from the command side's event store into a new generation, then switch.

rebuilder = Rebuilder(model, projector, read_stream, list_streams, head)
rebuilder.start()        # in the process that projects (the event queue's active consumer)

Queries keep reading the current generation while every stream is read over RabbitMQ (ListStreams,
ReadStream: never the command side's database) and applied to the next one; live events go on to
both (model.Building says when). Then the customers that became preferred are numbered in the order
they did, queries switch at once, and the old collections go once every replica has followed.
Progress and a heartbeat are kept in the control document: a second rebuild is refused while the
heartbeat is fresh, and a rebuild whose runner stopped resumes from what its generation holds.
"""

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from uuid import UUID

from cqrs_contracts import CUSTOMER, TRANSFER, EventEnvelope, RebuildProgress, StreamList, StreamType
from query_service.projection import projector
from query_service.projection.projections import document_owner
from query_service.projection.projector import Projector
from query_service.projection.repair import PAGE, ReadStream, pages
from query_service.read_model import checkpoint, control, layout
from query_service.read_model.changes import PREFERRED_LIST, TRANSFER_LIST
from query_service.read_model.model import REFRESH, Building, ReadModel
from query_service.read_model.store import ReadStore
from query_service.read_model.upgrade import mark_layout

log = logging.getLogger(__name__)

ListStreamsCall = Callable[[UUID | None], Awaitable[StreamList]]
STREAMS_AT_ONCE = 8
SWITCH_GRACE = 3 * REFRESH


def _now() -> datetime:
    return datetime.now(UTC)


class Rebuilder:
    def __init__(
        self,
        model: ReadModel,
        owners: Projector,
        read_stream: ReadStream,
        list_streams: ListStreamsCall,
        head: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        """``head``: the event store's last global position (the new generation's checkpoint)."""
        self._model = model
        self._head = head
        self._owners = owners
        self._read_stream = read_stream
        self._list_streams = list_streams
        self._task: asyncio.Task[None] | None = None
        self._progress: RebuildProgress | None = None
        self._saving = asyncio.Lock()

    def start(self) -> bool:
        """Start (or resume) a rebuild in the background; False if this process runs one already."""
        if self._task is not None and not self._task.done():
            return False
        self._task = asyncio.create_task(self._run(), name="rebuild")
        return True

    async def stop(self) -> None:
        """Stop a running rebuild (at shutdown); it resumes from its generation when started again."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        beat = asyncio.create_task(self._heartbeat(), name="rebuild heartbeat")
        try:
            await self._rebuild()
        except asyncio.CancelledError:
            log.info("rebuild stopped; it resumes when asked again (cqrs projection rebuild)")
            raise
        except Exception as error:  # a rebuild never takes the service down; it says why it failed
            log.exception("rebuild failed")
            await self._finish("failed", error=f"{type(error).__name__}: {error}")
        finally:
            beat.cancel()
            self._model.building = None

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(control.HEARTBEAT)
            await self._flush()

    def _set(self, **changes: object) -> None:
        if self._progress is not None:
            self._progress = self._progress.model_copy(update=changes)

    async def _flush(self, **changes: object) -> None:
        """Record the progress (with ``changes``) and the heartbeat; one write at a time, in order."""
        self._set(**changes)
        async with self._saving:
            if self._progress is not None:
                progress = self._progress.model_copy(update={"updated_at": _now()})
                await control.save_rebuild(self._model.db, progress)

    async def _finish(self, state: str, **changes: object) -> None:
        await self._flush(state=state, finished_at=_now(), **changes)

    async def _rebuild(self) -> None:
        previous = await control.rebuild(self._model.db)
        current = self._model.store.generation
        target = control.target_of(previous, current)
        resuming = previous is not None and previous.target == target and previous.state != "requested"
        store = ReadStore(self._model.db, target)
        await self._drop_leftovers(keep={current, target})
        await store.ensure_indexes()
        await mark_layout(self._model.db, target)
        store.lists.defer = True
        started = control.started_of(previous, target, _now())
        runner = f"{socket.gethostname()}:{os.getpid()}"
        self._progress = RebuildProgress(
            state="building", target=target, runner=runner, started_at=started, updated_at=started
        )
        await self._flush()
        log.info("rebuilding the read model into generation %d%s", target, " (resumed)" if resuming else "")
        # Read before the listing starts: every event up to it is in the streams the listing finds.
        head = await self._head() if self._head is not None else 0
        building = Building(store)
        self._model.building = building
        await self._fill(building)
        await self._switch(store, head)

    async def _fill(self, building: Building) -> None:
        """Every stream of the event store, a page of the listing at a time."""
        after: UUID | None = None
        while True:
            listed = await self._list_streams(after)
            if listed.total is not None:
                self._set(streams_total=listed.total)
            ids = {ref.stream_id: ref.stream_type for ref in listed.streams}
            # Synchronously, before any other event is handled: which streams this page makes covered.
            building.pending = set(ids)
            if listed.next is None:
                building.everything = True
            else:
                building.upto = listed.next
            late = {
                stream_id: kind
                for stream_id, kind in building.skipped.items()
                if stream_id not in ids and building.covers(stream_id)
            }
            for stream_id in late:
                del building.skipped[stream_id]
            await self._streams(building, {**ids, **late})
            if listed.next is None:
                return
            after = listed.next

    async def _streams(self, building: Building, streams: dict[UUID, StreamType]) -> None:
        limit = asyncio.Semaphore(STREAMS_AT_ONCE)

        async def one(stream_id: UUID, kind: StreamType) -> None:
            async with limit:
                await self._stream(building, stream_id, kind)

        await asyncio.gather(*(one(stream_id, kind) for stream_id, kind in streams.items()))

    async def _stream(self, building: Building, stream_id: UUID, kind: StreamType) -> None:
        """Bring one stream of the new generation up to the event store, holding its owner's lock
        (no live event of the same customer is applied meanwhile); then it is covered."""
        store = building.store
        first: list[EventEnvelope] | None = None
        if kind in (CUSTOMER, TRANSFER):  # their events write their own documents only
            owner = stream_id
        else:
            account = await store.account(stream_id)
            if account is not None:
                owner = account.customer_id
            else:
                first = await self._read_stream(stream_id, 0)
                if not first:
                    building.pending.discard(stream_id)
                    return
                owner = document_owner(first[0])
        async with self._owners.owning(owner):
            applied = await self._catch_up(store, stream_id, kind, first)
            building.pending.discard(stream_id)
        if self._progress is not None:
            done, events = self._progress.streams_done + 1, self._progress.events_applied + applied
            self._set(streams_done=done, events_applied=events)

    async def _catch_up(
        self, store: ReadStore, stream_id: UUID, kind: StreamType, first: list[EventEnvelope] | None
    ) -> int:
        """Apply what the stream holds past the generation's position; pages until one is short.
        A page read before the lock was taken is applied, then read past once more under it."""
        after = await store.position(kind, stream_id)
        applied = 0
        async for page in pages(self._read_stream, stream_id, after, first=first, page_size=PAGE):
            for item in page:
                await projector.apply(item, store, self._read_stream)
                applied += 1
        return applied

    async def _switch(self, store: ReadStore, head: int) -> None:
        """Number the deferred, point queries at ``store``, and drop the old generation."""
        await self._flush(state="switching")
        # Until a pass finds none: an apply in flight at the first pass may still have deferred one.
        for collection, numbered_list in (
            (layout.CUSTOMERS, PREFERRED_LIST),
            (layout.TRANSFERS, TRANSFER_LIST),
        ):
            numbered = await store.lists.number_deferred(collection, numbered_list)
            while numbered:
                await asyncio.sleep(REFRESH)
                numbered = await store.lists.number_deferred(collection, numbered_list)
        old = self._model.store
        await checkpoint.save(self._model.db, store.generation, head, create=True)
        self._model.retiring, self._model.store, self._model.building = old, store, None
        await control.set_generation(self._model.db, store.generation)
        log.info(
            "queries read generation %d; generation %d goes in %g s",
            store.generation,
            old.generation,
            SWITCH_GRACE,
        )
        await asyncio.sleep(SWITCH_GRACE)
        self._model.retiring = None
        await old.drop()
        await self._finish("done")
        log.info("rebuild into generation %d done", store.generation)

    async def _drop_leftovers(self, keep: set[int]) -> None:
        """Drop the collections of generations other than ``keep`` (an interrupted switch leaves the
        old ones). The target's are kept: what an earlier attempt applied is a prefix of each stream,
        which the rebuild continues from."""
        names = await self._model.db.list_collection_names()
        for name in names:
            generation = layout.generation_of(name)
            if generation is not None and generation not in keep:
                await self._model.db[name].drop()
