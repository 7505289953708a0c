"""One command end to end: load what it needs, decide, commit; the reply is whatever got recorded.

reply = await handle(command, metadata, store)    # store: any ports.EventStore
"""

import asyncio
import logging
import random
from typing import Any
from uuid import UUID, uuid4

from command_service.domain.errors import AlreadyExists, DomainError, NotFound, VersionMismatch
from command_service.errors import ConcurrencyConflict
from command_service.ports import Change, EventStore, Loaded, NewEvent, StreamChange, StreamState
from command_service.routes import Route, route_of
from cqrs_shared.contracts import (
    Command,
    CommandAccepted,
    CommandRejected,
    CommandReply,
    ErrorInfo,
    Metadata,
    StreamPosition,
)
from cqrs_shared.contracts.commands import Versioned

log = logging.getLogger(__name__)

# Conflicts between replicas are retried with a short random backoff; within one process the
# entry point already serialises commands per stream, so conflicts are rare. A command with an
# expected_version is not retried in effect: the next load finds the stream moved and rejects it.
MAX_ATTEMPTS = 10
BACKOFF_SECONDS = 0.005


async def handle(command: Command, metadata: Metadata, store: EventStore) -> CommandReply:
    """Apply ``command`` once; a repeated command_id gets the reply recorded the first time."""
    route = route_of(command)
    target = route.target(command, metadata.message_id)
    required = route.required(command)
    reads = [target] if required is None else [target, required[1]]
    for attempt in range(1, MAX_ATTEMPTS + 1):
        loaded = await store.load(metadata.message_id, reads)
        if loaded.reply is not None:
            return loaded.reply
        try:
            return await store.commit(decide(route, command, metadata, target, loaded))
        except ConcurrencyConflict:
            log.debug("conflict on command %s, attempt %d", metadata.message_id, attempt)
            await asyncio.sleep(random.uniform(0, BACKOFF_SECONDS * attempt))
    gave_up = VersionMismatch(f"the stream kept changing; gave up after {MAX_ATTEMPTS} attempts")
    return await store.commit(_rejected(command, metadata, gave_up))


def decide(route: Route[Any], command: Command, metadata: Metadata, target: UUID, loaded: Loaded) -> Change:
    """The command's outcome on what was loaded: accepted with its events, or rejected. No I/O."""
    current = loaded.streams.get(target)
    version = current.version if current else 0
    aggregate = route.aggregate
    try:
        _check_required(route, command, loaded)
        state = None if current is None else _state(route, current, target)
        _check_expected(command, version)
        events, new_state = aggregate.run(state, command, target)
    except DomainError as error:
        return _rejected(command, metadata, error)
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
        change = StreamChange(aggregate.stream_type, target, version, aggregate.dump(new_state), new)
    return Change(metadata.message_id, command.type, accepted, metadata, change)


def _check_required(route: Route[Any], command: Command, loaded: Loaded) -> None:
    required = route.required(command)
    if required is None:
        return
    stream_type, stream_id = required
    found = loaded.streams.get(stream_id)
    if found is None or found.stream_type != stream_type:
        raise NotFound(f"{stream_type} {stream_id} does not exist")


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


def _rejected(command: Command, metadata: Metadata, error: DomainError) -> Change:
    info = ErrorInfo(code=error.code, message=error.message, fields=error.fields)
    reply = CommandRejected(command_id=metadata.message_id, error=info)
    return Change(metadata.message_id, command.type, reply, metadata)
