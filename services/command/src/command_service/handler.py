"""One command end to end: idempotency, load, decide, one transaction, the reply."""

import asyncio
import logging
import random
from uuid import UUID, uuid4

from pydantic import TypeAdapter

from command_service.aggregates import ROUTES, Aggregate, creates, prerequisite, stream_id
from command_service.domain.errors import AlreadyExists, DomainError, NotFound, VersionMismatch
from command_service.errors import ConcurrencyConflict, DuplicateCommand
from command_service.store import Change, EventStore, NewEvent, StreamState
from cqrs_shared.contracts import (
    Command,
    CommandAccepted,
    CommandRejected,
    CommandReply,
    ErrorInfo,
    Metadata,
)

log = logging.getLogger(__name__)

# Conflicts between replicas are retried with a short random backoff; within one process the
# entry point already serialises commands per stream, so conflicts are rare.
MAX_ATTEMPTS = 10
BACKOFF_SECONDS = 0.005
REPLY = TypeAdapter[CommandReply](CommandReply)


async def handle(command: Command, metadata: Metadata, store: EventStore) -> CommandReply:
    """Apply ``command`` once; a repeated command_id gets the reply recorded the first time."""
    command_id = metadata.message_id
    stored = await store.stored_reply(command_id)
    if stored is not None:
        return REPLY.validate_python(stored)
    missing = await _missing_prerequisite(command, store)
    if missing is not None:
        return await _record(store, command, _rejected(command_id, NotFound(missing)))
    for attempt in range(MAX_ATTEMPTS):
        try:
            return await _attempt(command, metadata, store)
        except ConcurrencyConflict:
            log.debug("conflict on command %s, attempt %d", command_id, attempt + 1)
            await asyncio.sleep(random.uniform(0, BACKOFF_SECONDS * (attempt + 1)))
    gave_up = VersionMismatch(f"the stream kept changing; gave up after {MAX_ATTEMPTS} attempts")
    return await _record(store, command, _rejected(command_id, gave_up))


async def _attempt(command: Command, metadata: Metadata, store: EventStore) -> CommandReply:
    """Load, decide and commit once; raises ConcurrencyConflict when another writer was first."""
    command_id = metadata.message_id
    aggregate = ROUTES[command.type]
    target = stream_id(command, command_id)
    current = await store.load(target)
    version = current.version if current else 0
    try:
        state = _state(aggregate, current, command, target)
        _check_expected(command, version)
        events, new_state = aggregate.run(state, command, target)
    except DomainError as error:
        return await _record(store, command, _rejected(command_id, error))
    accepted = CommandAccepted(
        command_id=command_id,
        stream_type=aggregate.stream_type,
        id=target,
        version=version + len(events),
        token=f"{aggregate.stream_type}:{target}@{version + len(events)}",
    )
    if not events or new_state is None:
        return await _record(store, command, accepted)
    change = Change(
        command_id=command_id,
        command_type=command.type,
        stream_type=aggregate.stream_type,
        stream_id=target,
        loaded_version=version,
        state=aggregate.dump(new_state),
        events=[NewEvent(uuid4(), event.type, event.model_dump(mode="json")) for event in events],
        reply=accepted.model_dump(mode="json"),
        metadata=metadata,
    )
    try:
        await store.commit(change)
    except DuplicateCommand:
        return await _stored(store, command_id)
    except ConcurrencyConflict:
        if getattr(command, "expected_version", None) is None:
            raise
        conflict = VersionMismatch(f"stream {target} changed concurrently")
        return await _record(store, command, _rejected(command_id, conflict))
    return accepted


def _state(
    aggregate: Aggregate[object], current: StreamState | None, command: Command, target: UUID
) -> object:
    """The aggregate's state, or None when new; an id taken by another kind of aggregate is rejected."""
    if current is None:
        return None
    if current.stream_type != aggregate.stream_type:
        message = f"{target} is a {current.stream_type}, not a {aggregate.stream_type}"
        raise AlreadyExists(message) if creates(command) else NotFound(message)
    return aggregate.load(current.state)


def _check_expected(command: Command, version: int) -> None:
    expected = getattr(command, "expected_version", None)
    if expected is not None and expected != version:
        raise VersionMismatch(f"expected version {expected}, stream is at {version}")


def _rejected(command_id: UUID, error: DomainError) -> CommandRejected:
    info = ErrorInfo(code=error.code, message=error.message, fields=error.fields)
    return CommandRejected(command_id=command_id, error=info)


async def _missing_prerequisite(command: Command, store: EventStore) -> str | None:
    """Why ``command`` cannot be decided for want of another aggregate, or None."""
    required = prerequisite(command)
    if required is None:
        return None
    stream_type, required_id = required
    found = await store.load(required_id)
    if found is None or found.stream_type != stream_type:
        return f"{stream_type} {required_id} does not exist"
    return None


async def _record(store: EventStore, command: Command, reply: CommandReply) -> CommandReply:
    """Record a reply that changes no state; a concurrent duplicate's record wins."""
    command_id = reply.command_id
    if command_id is None:
        raise ValueError("a recorded reply needs its command id")
    try:
        await store.record_result(command_id, command.type, reply.model_dump(mode="json"))
    except DuplicateCommand:
        return await _stored(store, command_id)
    return reply


async def _stored(store: EventStore, command_id: UUID) -> CommandReply:
    stored = await store.stored_reply(command_id)
    if stored is None:
        raise RuntimeError(f"command {command_id} reported duplicate but has no stored result")
    return REPLY.validate_python(stored)
