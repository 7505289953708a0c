"""Which failures are worth a retry (requeue) rather than a dead letter."""

from aio_pika.exceptions import AMQPError
from pymongo.errors import PyMongoError

from cqrs_shared.errors import ClientError
from query_service.errors import RepairFailed


def is_transient(error: BaseException) -> bool:
    """Outages, and gaps the command side cannot fill yet; anything else must not loop.

    Every MongoDB error counts as an outage: an event that parsed is good data, and dropping it
    would leave its stream behind until its next event; a query retried is harmless. (A server
    error that never heals then shows as a warning every second rather than as lost data.)
    """
    return isinstance(error, OSError | TimeoutError | AMQPError | PyMongoError | ClientError | RepairFailed)
