"""Which failures are worth a retry (requeue) rather than a dead letter."""

import asyncpg
from aio_pika.exceptions import AMQPError


def is_transient(error: BaseException) -> bool:
    """Outages and lock conflicts pass; anything else is a bug or bad data and must not loop."""
    return isinstance(
        error,
        OSError
        | TimeoutError
        | AMQPError
        | asyncpg.PostgresConnectionError
        | asyncpg.InterfaceError
        | asyncpg.CannotConnectNowError
        | asyncpg.TooManyConnectionsError
        | asyncpg.SerializationError
        | asyncpg.DeadlockDetectedError,
    )
