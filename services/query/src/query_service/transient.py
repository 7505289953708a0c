"""Which failures are outages (requeued until they end) rather than failures (retried with a budget)."""

from aio_pika.exceptions import AMQPError
from pymongo.errors import ConnectionFailure, ExecutionTimeout, WTimeoutError

from cqrs_client.errors import ClientError
from cqrs_shared.runtime.group_commit import GroupInterrupted
from query_service.errors import RepairFailed


def is_transient(error: BaseException) -> bool:
    """Outages (MongoDB or the broker unreachable), and gaps the command side cannot fill yet.

    A MongoDB error that is not an outage (an OperationFailure, say a write the server refuses) is
    not: it would fail the same way for ever, so it is retried a bounded number of times, then
    parked in the dead-letter queue for an operator (`cqrs dlq`), and its customer's later events
    wait behind it (their gap repair meets it again).
    """
    return isinstance(
        error,
        OSError
        | TimeoutError
        | AMQPError
        | ConnectionFailure
        | ExecutionTimeout
        | WTimeoutError
        | ClientError
        | RepairFailed
        | GroupInterrupted,
    )
