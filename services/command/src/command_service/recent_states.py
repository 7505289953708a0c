"""The states of the streams this process committed or loaded lately, to decide without a load.

recent = RecentStates(10_000)
loaded = recent.assumed(reads, creates=route.creates)   # None: some stream is not known; load
recent.committed(change)                                  # after a commit that wrote ``change``
recent.loaded(loaded)                                     # after a load
recent.forget(stream_id)                                  # after a commit that failed or conflicted

A decision on assumed states costs the event store's round trip of loading them. It is safe because
the handler commits it only when it appends to its stream (handler.py): the append is checked
against the version the state was assumed at (and the owner's count of streams it owns), so a state
another replica has moved since fails with a conflict, and the handler then loads and decides
again. A rejection, a reply with no event, or a decision that reads a peer stream, is never made
on assumed states: nothing in the commit would check what they relied on. A command's repeat is
found by the commit too (its id is taken: the recorded reply comes back). Pure: no I/O.
"""

from collections import OrderedDict
from uuid import UUID

from command_service.ports import Change, Loaded, StreamState

DEFAULT_SIZE = 10_000


class RecentStates:
    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._size = size
        self._states: OrderedDict[UUID, StreamState] = OrderedDict()
        self.assumed_count = 0  # decisions offered states without a load

    def assumed(self, reads: list[UUID], target: UUID, *, creates: bool) -> Loaded | None:
        """Every stream in ``reads`` as last known, the target absent if the command creates it and
        none is known; None when any other is not known."""
        if self._size <= 0:
            return None
        streams: dict[UUID, StreamState] = {}
        for stream_id in reads:
            found = self._states.get(stream_id)
            if found is not None:
                streams[stream_id] = found
            elif not (creates and stream_id == target):
                return None
        self.assumed_count += 1
        return Loaded(None, streams)

    def loaded(self, loaded: Loaded) -> None:
        for stream_id, state in loaded.streams.items():
            self._keep(stream_id, state)

    def committed(self, change: Change) -> None:
        """``change`` was written: its stream is at the new version; its owner's count moved (kept
        no more, so that the next command on the owner loads it)."""
        stream = change.stream
        if stream is None:
            return
        before = self._states.get(stream.stream_id)
        version = stream.loaded_version + len(stream.events)
        owned = before.owned if before is not None else 0
        self._keep(stream.stream_id, StreamState(stream.stream_type, version, stream.state, owned))
        if stream.owner is not None:
            self.forget(stream.owner.stream_id)

    def forget(self, stream_id: UUID) -> None:
        self._states.pop(stream_id, None)

    def _keep(self, stream_id: UUID, state: StreamState) -> None:
        if self._size <= 0:
            return
        self._states[stream_id] = state
        self._states.move_to_end(stream_id)
        if len(self._states) > self._size:
            self._states.popitem(last=False)
