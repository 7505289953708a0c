"""One command end to end: idempotency, load, decide, one transaction, the reply."""

import asyncio
import logging
import random
from typing import Any
from uuid import UUID, uuid4

from pydantic import TypeAdapter

from command_service.aggregates import ROUTES, creates, prerequisite, stream_id
from command_service.domain.errors import DomainError, VersionMismatch
from command_service.errors import ConcurrencyConflict, DuplicateCommand
from command_service.store import Change, EventStore, NewEvent
from cqrs_shared.contracts import (
    Command,
    CommandAccepted,
    CommandRejected,
    CommandReply,
    ErrorCode,
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
    aggregate = ROUTES[command.type]
    target = stream_id(command, command_id)
    missing = await _missing_prerequisite(command, store)
    if missing is not None:
        return await _finish(store, command, command_id, _rejected(command_id, ErrorCode.NOT_FOUND, missing))
    expected = getattr(command, "expected_version", None)
    for attempt in range(MAX_ATTEMPTS):
        current = await store.load(target)
        if current is not None and current.stream_type != aggregate.stream_type:
            # The id names an aggregate of another kind: for this command's kind it does not exist.
            code = ErrorCode.ALREADY_EXISTS if creates(command) else ErrorCode.NOT_FOUND
            message = f"{target} is a {current.stream_type}, not a {aggregate.stream_type}"
            return await _finish(store, command, command_id, _rejected(command_id, code, message))
        version = current.version if current else 0
        state = aggregate.load(current.state) if current else None
        try:
            if expected is not None and expected != version:
                raise VersionMismatch(f"expected version {expected}, stream is at {version}")
            events, new_state = aggregate.run(state, command, target)
        except DomainError as error:
            rejected = _rejected(command_id, error.code, error.message, error.fields)
            return await _finish(store, command, command_id, rejected)
        new_version = version + len(events)
        accepted = CommandAccepted(
            command_id=command_id,
            stream_type=aggregate.stream_type,
            id=target,
            version=new_version,
            token=f"{aggregate.stream_type}:{target}@{new_version}",
        )
        if not events or new_state is None:
            return await _finish(store, command, command_id, accepted)
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
            return accepted
        except DuplicateCommand:
            return await _stored(store, command_id)
        except ConcurrencyConflict:
            if expected is not None:
                message = f"stream {target} changed concurrently (expected version {expected})"
                rejected = _rejected(command_id, ErrorCode.CONCURRENCY_CONFLICT, message)
                return await _finish(store, command, command_id, rejected)
            log.debug("conflict on %s, retrying %s", target, command_id)
            await asyncio.sleep(random.uniform(0, BACKOFF_SECONDS * (attempt + 1)))
    message = f"stream {target} kept changing; gave up after {MAX_ATTEMPTS} attempts"
    return await _finish(
        store, command, command_id, _rejected(command_id, ErrorCode.CONCURRENCY_CONFLICT, message)
    )


def _rejected(
    command_id: UUID, code: ErrorCode, message: str, fields: dict[str, str] | None = None
) -> CommandRejected:
    return CommandRejected(
        command_id=command_id, error=ErrorInfo(code=code, message=message, fields=fields or {})
    )


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


async def _finish(store: EventStore, command: Any, command_id: UUID, reply: CommandReply) -> CommandReply:
    """Record a reply that changes no state; a concurrent duplicate's record wins."""
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
