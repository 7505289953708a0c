"""Commands on one stream one at a time in arrival order; those that queued while the stream was
busy go together: decided in turn and committed in one statement (group commit per stream).

commands = StreamCommands(store, locks, recent)
reply = await commands.handle(command, metadata, sender)   # raises CommandIdTaken as handle does

Ten clients depositing into one account keep its stream busy: while one deposit commits, the next
ones wait, and the next to get the stream commits all that waited in one round trip instead of one
each (handler.handle_together). A command that finds its stream free goes at once, alone; so do
those that cannot go together (handle_together says which), each with its own outcome.
"""

from command_service import handler, metrics
from command_service.handler import Pending
from command_service.ports import EventStore
from command_service.recent_states import RecentStates
from command_service.routes import route_of
from cqrs_contracts import Command, CommandReply, Metadata
from cqrs_shared.runtime.group_commit import GroupCommit
from cqrs_shared.runtime.keyed_lock import KeyedLock

# The most commands of one stream committed together: a consumer's default prefetch.
MOST_TOGETHER = 64


class StreamCommands:
    def __init__(self, store: EventStore, locks: KeyedLock, recent: RecentStates | None = None) -> None:
        """``locks`` is the process's, shared with the transfer process manager; without ``recent``
        every command is loaded and committed alone."""
        self._store = store
        self._recent = recent
        self._batches = GroupCommit[Pending, CommandReply](
            locks, together=self._together, alone=self._alone, most=MOST_TOGETHER
        )

    async def handle(self, command: Command, metadata: Metadata, sender: str | None) -> CommandReply:
        """``command``'s reply, once it is committed (handler.handle says what it may raise)."""
        target = route_of(command).target(command, metadata.message_id)
        return await self._batches.submit(str(target), Pending(command, metadata, sender))

    async def _alone(self, pending: Pending) -> CommandReply:
        return await handler.handle(
            pending.command, pending.metadata, self._store, sender=pending.sender, recent=self._recent
        )

    async def _together(self, pending: list[Pending]) -> list[CommandReply] | None:
        replies = None
        if self._recent is not None:
            replies = await handler.handle_together(pending, self._store, self._recent)
        metrics.COMMANDS_TOGETHER.labels("one_by_one" if replies is None else "together").observe(
            len(pending)
        )
        return replies
