"""Which failures are worth a retry (requeue) rather than a dead letter."""

from aio_pika.exceptions import AMQPError
from pymongo.errors import ConnectionFailure, NetworkTimeout

from cqrs_shared.errors import ClientError
from query_service.errors import RepairFailed


def is_transient(error: BaseException) -> bool:
    """Outages, and gaps the command side cannot fill yet; anything else must not loop."""
    return isinstance(
        error,
        OSError | TimeoutError | AMQPError | ConnectionFailure | NetworkTimeout | ClientError | RepairFailed,
    )
