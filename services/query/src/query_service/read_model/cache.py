"""Views kept in memory by the process that projects, so that a read by id costs no database trip.

cache = ViewCache(20_000)
cache.enable()                                  # this process projects every partition (sharing.py)
view = cache.get(key)                           # None: read the database, then
ticket = cache.ticket()                         #   (taken before that read)
cache.fill(key, view, ticket)                   #   refused when the document changed meanwhile
with cache.writing(key) as rewrite:             # the projector writes the document: no view of it
    await write()                               #   is served or kept until the write is done;
    rewrite.after = view_after                  #   one it can tell exactly is kept once it is

Why this is safe: each event partition has one active consumer, so a process that projects every
partition (Subscription.projects_everything) is the only writer of the read model. While it writes
a document, its view is neither served nor kept: the write is visible to other connections before
this process hears that it is done (a query may already have seen the new position), so reads of it
go to the database, like those of a process without a cache. A read that began before the write
ended may return the old document; its fill is refused by the write's sequence number (kept for the
last REMEMBERED writes, and anything older than those is refused too). The writer may hand over the view
after its write, when it can tell it exactly (the document it inserted, or the kept one with the
write's fields set: store.py): it is kept once the write is done, unless the cache was switched off
or cleared meanwhile, so a read of a document just written is a hit. A process that does not
project everything (another replica projects some) never caches: it could not know when a document
changes. Losing an event channel ends projecting everything
(``disable``), as another replica may then take over that partition. Pure: no I/O.
"""

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

V = TypeVar("V")
REMEMBERED = 10_000
# A view older than this is read again: what no projector announces (an operator's hand edit, another
# release's layout upgrade at its start) shows within it.
MAX_AGE_SECONDS = 60.0


@dataclass
class Rewrite(Generic[V]):
    """A write of one document: the view kept before it (None when none was, or it was too old),
    and the view after it, which the writer sets when it can tell it exactly."""

    before: V | None
    after: V | None = None


class ViewCache(Generic[V]):
    def __init__(
        self,
        size: int,
        remembered: int = REMEMBERED,
        max_age: float = MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._size = size
        self._remembered = remembered
        self._max_age = max_age
        self._clock = clock
        self._views: OrderedDict[Hashable, tuple[V, float]] = OrderedDict()
        self._changed: OrderedDict[Hashable, int] = OrderedDict()  # key -> sequence of its last change
        self._writing: dict[Hashable, int] = {}  # key -> writes of it in flight
        self._sequence = 0
        self._forgotten = 0  # changes up to this sequence number are no longer remembered by key
        self._enabled = False
        self._epoch = 0  # grows at every enable, disable and clear: a write across one keeps nothing
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self._enabled and self._size > 0

    def enable(self) -> None:
        """This process projects now. Reads begun before (another process may have been writing
        meanwhile) fill nothing."""
        if not self._enabled:
            self._sequence += 1
            self._forgotten = self._sequence
            self._epoch += 1
            self._enabled = True

    def disable(self) -> None:
        """Stop caching and forget every view (another process may project from now on)."""
        self._enabled = False
        self.clear()

    def clear(self) -> None:
        self._views.clear()
        self._forgotten = self._sequence  # a fill from a read begun before now is refused
        self._epoch += 1

    def get(self, key: Hashable) -> V | None:
        if not self.enabled:
            return None
        kept = self._views.get(key)
        if kept is None or key in self._writing or self._clock() - kept[1] > self._max_age:
            self.misses += 1
            return None
        self._views.move_to_end(key)
        self.hits += 1
        return kept[0]

    def ticket(self) -> int:
        """Take before reading the database; give to ``fill``."""
        return self._sequence

    def fill(self, key: Hashable, view: V, ticket: int) -> bool:
        """Keep ``view``, read after ``ticket`` was taken, unless its document changed since."""
        if (
            not self.enabled
            or key in self._writing
            or ticket < self._forgotten
            or self._changed.get(key, -1) > ticket
        ):
            return False
        self._keep(key, view, self._clock())
        return True

    def _keep(self, key: Hashable, view: V, at: float) -> None:
        self._views[key] = (view, at)
        self._views.move_to_end(key)
        if len(self._views) > self._size:
            self._views.popitem(last=False)

    @contextmanager
    def writing(self, key: Hashable) -> Iterator[Rewrite[V]]:
        """Around a write of the document behind ``key``: no view of it until the write is done.
        The view the writer sets as ``after`` is kept then, with the age of the one kept before
        (an edit no projector announced still shows within MAX_AGE_SECONDS of the first read)."""
        kept = self._views.pop(key, None)
        now, epoch = self._clock(), self._epoch
        fresh = self.enabled and kept is not None and now - kept[1] <= self._max_age
        rewrite = Rewrite(kept[0] if fresh and kept is not None else None)
        self._writing[key] = self._writing.get(key, 0) + 1
        try:
            yield rewrite
        finally:
            left = self._writing.pop(key) - 1
            if left:
                self._writing[key] = left
            self.changed(key)
            if rewrite.after is not None and not left and self.enabled and epoch == self._epoch:
                self._keep(key, rewrite.after, kept[1] if fresh and kept is not None else now)

    def changed(self, key: Hashable) -> None:
        """The document behind ``key`` was written (after the write, whatever its outcome)."""
        self._sequence += 1
        self._views.pop(key, None)
        self._changed[key] = self._sequence
        self._changed.move_to_end(key)
        if len(self._changed) > self._remembered:
            _, sequence = self._changed.popitem(last=False)
            self._forgotten = max(self._forgotten, sequence)
