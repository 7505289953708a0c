"""One command end to end: load what it needs, decide, commit; the reply is whatever got recorded.

reply = await handle(command, metadata, store, sender="teller")    # store: any ports.EventStore
"""

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from command_service.domain.errors import AlreadyExists, DomainError, NotFound, VersionMismatch
from command_service.errors import CommandIdTaken, ConcurrencyConflict
from command_service.ports import (
    Change,
    EventStore,
    Loaded,
    NewEvent,
    Owner,
    Recorded,
    StreamChange,
    StreamState,
)
from command_service.recent_states import RecentStates
from command_service.routes import Route, route_of
from cqrs_contracts import (
    Command,
    CommandAccepted,
    CommandRejected,
    CommandReply,
    ErrorInfo,
    Metadata,
    StreamPosition,
)
from cqrs_contracts.commands import Versioned

log = logging.getLogger(__name__)

# Conflicts between replicas are retried with a short random backoff; within one process the
# entry point already serialises commands per stream, so conflicts are rare. A command with an
# expected_version is not retried in effect: the next load finds the stream moved and rejects it.
MAX_ATTEMPTS = 10
BACKOFF_SECONDS = 0.005


async def handle(
    command: Command,
    metadata: Metadata,
    store: EventStore,
    *,
    sender: str | None,
    recent: RecentStates | None = None,
) -> CommandReply:
    """Apply ``command`` of ``sender`` (the user_id RabbitMQ checked) once; its repeat (the same
    command_id, type and sender) gets the reply recorded the first time. Raises CommandIdTaken when
    the command_id names another command or another sender's: then nothing is applied.

    With ``recent``, the first attempt decides on the states this process last knew, without a
    load, when that decision appends to its stream (recent_states.py says why that is safe)."""
    route = route_of(command)
    target = route.target(command, metadata.message_id)
    reads = route.reads(command, target)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        if attempt == 1 and recent is not None and route.peers is None:
            assumed = recent.assumed(reads, target, creates=route.creates)
            change = (
                None if assumed is None else _appending(route, command, metadata, target, assumed, sender)
            )
            if change is not None:
                try:
                    return reply_of(await _commit(store, change, recent), command, metadata, sender)
                except ConcurrencyConflict:
                    continue  # what was assumed has moved: load it
        loaded = await store.load(metadata.message_id, reads)
        if recent is not None:
            recent.loaded(loaded)
        if loaded.recorded is not None:
            return reply_of(loaded.recorded, command, metadata, sender)
        try:
            change = decide(route, command, metadata, target, loaded, sender=sender)
            return reply_of(await _commit(store, change, recent), command, metadata, sender)
        except ConcurrencyConflict:
            log.debug("conflict on command %s, attempt %d", metadata.message_id, attempt)
            await asyncio.sleep(random.uniform(0, BACKOFF_SECONDS * attempt))
    gave_up = VersionMismatch(f"the stream kept changing; gave up after {MAX_ATTEMPTS} attempts")
    return reply_of(
        await store.commit(_rejected(command, metadata, sender, gave_up)), command, metadata, sender
    )


@dataclass(frozen=True)
class Pending:
    """A command waiting for its stream, with what handling it needs."""

    command: Command
    metadata: Metadata
    sender: str | None


async def handle_together(
    pending: Sequence[Pending], store: EventStore, recent: RecentStates
) -> list[CommandReply] | None:
    """Commands on one existing stream, in arrival order, decided in turn on its state last known
    and committed in one statement (group commit: store.commit_together); their replies. None when
    they cannot go together: a stream not known, a command that creates a stream, reads another, or
    appends to none of them, or a conflict or a taken command id at the commit. Then each goes
    alone (handle), and nothing of them was written.

    Safe for the reason a single decision on the state last known is (recent_states.py): the commit
    checks that the stream is still at the version the first decision assumed, and each next
    decision was made on the state the one before left. A rejection among them is checked with them.
    """
    changes = _decided_in_turn(pending, recent)
    if changes is None:
        return None
    stream_id = next(change.stream.stream_id for change in changes if change.stream is not None)
    try:
        await store.commit_together(changes)
    except ConcurrencyConflict:
        recent.forget(stream_id)
        return None
    except BaseException:
        recent.forget(stream_id)
        raise
    for change in changes:
        recent.committed(change)
    return [change.reply for change in changes]


def _decided_in_turn(pending: Sequence[Pending], recent: RecentStates) -> list[Change] | None:
    """Each command decided on the state the one before left (the first on the state last known);
    None where any may not be decided so, or none of them appends."""
    changes: list[Change] = []
    current: StreamState | None = None
    for item in pending:
        route = route_of(item.command)
        target = route.target(item.command, item.metadata.message_id)
        if route.creates or route.reads(item.command, target) != [target]:
            return None
        if current is None:
            assumed = recent.assumed([target], target, creates=False)
            current = None if assumed is None else assumed.streams[target]
            if current is None:
                return None
        loaded = Loaded(None, {target: current})
        change = decide(route, item.command, item.metadata, target, loaded, sender=item.sender)
        stream = change.stream
        if stream is not None:
            if stream.owner is not None:
                return None
            version = stream.loaded_version + len(stream.events)
            current = StreamState(stream.stream_type, version, stream.state, current.owned)
        changes.append(change)
    return changes if any(change.stream is not None for change in changes) else None


def _appending(
    route: Route[Any], command: Command, metadata: Metadata, target: UUID, assumed: Loaded, sender: str | None
) -> Change | None:
    """The decision on assumed states, if it appends to its stream (a commit checks it); else None."""
    change = decide(route, command, metadata, target, assumed, sender=sender)
    return change if change.stream is not None else None


async def _commit(store: EventStore, change: Change, recent: RecentStates | None) -> Recorded:
    """Commit ``change``; the stream's state is then known (or, after any failure, forgotten)."""
    try:
        recorded = await store.commit(change)
    except BaseException:
        if recent is not None and change.stream is not None:
            recent.forget(change.stream.stream_id)
        raise
    if recent is not None and recorded.reply == change.reply:
        recent.committed(change)  # written by this commit, not a repeat's earlier reply
    return recorded


def reply_of(recorded: Recorded, command: Command, metadata: Metadata, sender: str | None) -> CommandReply:
    """The reply recorded under the command id, if the id names this command: its type, and its
    sender or none (a result recorded without a user_id, or before senders were recorded)."""
    if recorded.sender is not None and recorded.sender != sender:
        # Whose command, and of which type, is not for another sender to learn.
        raise CommandIdTaken(f"command id {metadata.message_id} already names another sender's command")
    if recorded.command_type != command.type:
        raise CommandIdTaken(
            f"command id {metadata.message_id} already names another command"
            f" ({recorded.command_type}, not {command.type}): a new command needs a new id"
        )
    return recorded.reply


def decide(
    route: Route[Any],
    command: Command,
    metadata: Metadata,
    target: UUID,
    loaded: Loaded,
    *,
    sender: str | None,
) -> Change:
    """The command's outcome on what was loaded: accepted with its events, or rejected. No I/O."""
    current = loaded.streams.get(target)
    version = current.version if current else 0
    aggregate = route.aggregate
    try:
        required = _required(route, command, loaded)
        state = None if current is None else _state(route, current, target)
        _check_expected(command, version)
        events, new_state = aggregate.run(state, command, target, _peers(route, command, loaded))
        owner = _owner(route, required) if version == 0 and events else None
    except DomainError as error:
        return _rejected(command, metadata, sender, error)
    position = StreamPosition(
        stream_type=aggregate.stream_type, stream_id=target, version=version + len(events)
    )
    accepted = CommandAccepted(
        command_id=metadata.message_id,
        stream_type=aggregate.stream_type,
        id=target,
        version=position.version,
        token=str(position),
    )
    change = None
    if events and new_state is not None:
        new = [
            NewEvent(uuid4(), event.type, event.SCHEMA_VERSION, event.model_dump(mode="json"))
            for event in events
        ]
        state_json = aggregate.dump(new_state)
        change = StreamChange(aggregate.stream_type, target, version, state_json, new, owner)
    return Change(metadata.message_id, command.type, sender, accepted, metadata, change)


def _required(route: Route[Any], command: Command, loaded: Loaded) -> tuple[UUID, StreamState] | None:
    """The stream the command requires, as loaded; NotFound when it does not exist."""
    required = route.required(command)
    if required is None:
        return None
    stream_type, stream_id = required
    found = loaded.streams.get(stream_id)
    if found is None or found.stream_type != stream_type:
        raise NotFound(f"{stream_type} {stream_id} does not exist")
    return stream_id, found


def _peers(route: Route[Any], command: Command, loaded: Loaded) -> tuple[object, ...]:
    """The decider's context from the peer streams as loaded: () when the route names none."""
    peers = route.peers
    if peers is None:
        return ()
    states = []
    for stream_id in peers.ids(command):
        found = loaded.streams.get(stream_id)
        # A stream of another kind is no such peer: the decider says what is missing.
        fits = found is not None and found.stream_type == peers.aggregate.stream_type
        states.append(peers.aggregate.load(found.state) if found is not None and fits else None)
    return (peers.context(*states),)


def _owner(route: Route[Any], required: tuple[UUID, StreamState] | None) -> Owner | None:
    """The owner of the stream the command creates, if the domain lets it own one more."""
    if required is None:
        return None
    stream_id, found = required
    if route.room is not None:
        route.room(stream_id, found.owned)
    return Owner(stream_id, found.owned)


def _state(route: Route[Any], current: StreamState, target: UUID) -> object:
    """The aggregate's state; an id taken by another kind of aggregate is rejected."""
    stream_type = route.aggregate.stream_type
    if current.stream_type != stream_type:
        message = f"{target} is a {current.stream_type}, not a {stream_type}"
        raise AlreadyExists(message) if route.creates else NotFound(message)
    return route.aggregate.load(current.state)


def _check_expected(command: Command, version: int) -> None:
    if isinstance(command, Versioned) and command.expected_version not in (None, version):
        raise VersionMismatch(f"expected version {command.expected_version}, stream is at {version}")


def _rejected(command: Command, metadata: Metadata, sender: str | None, error: DomainError) -> Change:
    info = ErrorInfo(code=error.code, message=error.message, fields=error.fields)
    reply = CommandRejected(command_id=metadata.message_id, error=info)
    return Change(metadata.message_id, command.type, sender, reply, metadata)
