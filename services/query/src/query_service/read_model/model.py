"""Which generation of the read model queries read and the projector writes, followed across replicas.

model = ReadModel(db)
await model.load()                 # the generation recorded in the control document
await model.follow(stopped)        # re-read it every REFRESH seconds (another replica may switch)

A rebuild (rebuild.py) in this process sets ``building`` while it fills the next generation, then
switches: ``store`` becomes the new generation and ``retiring`` the old one until it is dropped.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from uuid import UUID

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from cqrs_contracts import StreamType
from query_service.read_model import control
from query_service.read_model.cache import ViewCache
from query_service.read_model.layout import Document
from query_service.read_model.store import Kept, ReadStore

log = logging.getLogger(__name__)

# How often a replica re-reads the generation; a rebuild waits several of these before it drops
# the generation it switched from, so that no replica still reads it.
REFRESH = 1.0


@dataclass
class Building:
    """The generation a rebuild fills, and which streams live events must be written to as well.

    The rebuild lists the event store's streams in id order, a page at a time. A stream is covered
    once it is done, or when its id is at most the last listed and it was never listed (it was
    created after the listing passed it): a live event of a covered stream is applied to ``store``
    too (filling any gap from the stream). Other live events are left to the rebuild; those of
    streams never listed are remembered in ``skipped`` so that it catches them up.
    """

    store: ReadStore
    upto: UUID | None = None
    everything: bool = False
    pending: set[UUID] = field(default_factory=set)
    skipped: dict[UUID, StreamType] = field(default_factory=dict)

    def covers(self, stream_id: UUID) -> bool:
        if stream_id in self.pending:
            return False
        return self.everything or (self.upto is not None and stream_id <= self.upto)


class ReadModel:
    def __init__(
        self, db: AsyncDatabase[Document], store: ReadStore | None = None, *, cache_size: int = 0
    ) -> None:
        self.db = db
        # The views this process may keep (cache.py): handed to whichever generation is current.
        self.cache: ViewCache[Kept] = ViewCache(cache_size)
        self._store = store or ReadStore(db)
        self._store.cache = self.cache
        self.retiring: ReadStore | None = None
        self.building: Building | None = None

    @property
    def store(self) -> ReadStore:
        """The generation queries read."""
        return self._store

    @store.setter
    def store(self, store: ReadStore) -> None:
        self.cache.clear()
        self._store.cache = ViewCache(0)
        store.cache = self.cache
        self._store = store

    async def load(self) -> None:
        """Read the generation from the control document; switch to it if it is another."""
        current = await control.generation(self.db)
        if current != self.store.generation:
            log.info("the read model is now generation %d (was %d)", current, self.store.generation)
            self.store = ReadStore(self.db, current)

    async def follow(self, stopped: asyncio.Event) -> None:
        """Until ``stopped``: re-read the generation every REFRESH seconds."""
        while not stopped.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopped.wait(), REFRESH)
            if self.building is not None or self.retiring is not None:
                continue  # this process is the one switching
            try:
                await self.load()
            except PyMongoError as error:
                log.warning("cannot read the read model's generation: %r", error)
