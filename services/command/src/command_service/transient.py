"""Which failures are worth a retry (requeue) rather than a dead letter."""

import asyncpg
from aio_pika.exceptions import AMQPError
from asyncpg.exceptions import InternalClientError, OperatorInterventionError

from cqrs_shared.runtime.group_commit import GroupInterrupted


def is_transient(error: BaseException) -> bool:
    """Outages and lock conflicts pass; anything else is a bug or bad data and must not loop.

    InternalClientError belongs here: asyncpg raises it ("cannot switch to state …") when the
    server drops a connection in the middle of an operation (found by tests/faults/test_outages.py).
    So does GroupInterrupted: the command waited for its stream behind a task that was cancelled
    (the service stops) before it was handled.
    """
    return isinstance(
        error,
        OSError
        | TimeoutError
        | AMQPError
        | asyncpg.PostgresConnectionError
        | asyncpg.InterfaceError
        | InternalClientError
        | OperatorInterventionError
        | asyncpg.TooManyConnectionsError
        | asyncpg.SerializationError
        | asyncpg.DeadlockDetectedError
        | GroupInterrupted,
    )
