"""The envelope checks every consumed message passes before anything costs: size, timestamp, headers,
reply address. One function, run by the consumer inside its protected block (issue 20).

    problem = screen(received, max_bytes=65_536)   # None, or the ErrorInfo to answer and dead-letter
"""

from cqrs_client.messaging.envelope import Delivery
from cqrs_client.messaging.tolerant_frames import UNREADABLE_TIMESTAMP
from cqrs_client.messaging.topology import DIRECT_REPLY_TO
from cqrs_contracts.base import ErrorCode, ErrorInfo

# The reply addresses a service answers to: RabbitMQ's direct reply-to, and the server-named queues
# a client declares for itself (exclusive to its connection). A name the sender chose is refused,
# so that nobody makes a service write into a queue (a command queue, a retry queue) it did not mean.
REPLY_PREFIXES = (DIRECT_REPLY_TO, "amq.gen-")


def reply_address_allowed(reply_to: str) -> bool:
    return reply_to.startswith(REPLY_PREFIXES)


def screen(received: Delivery, *, max_bytes: int) -> ErrorInfo | None:
    """Why ``received`` cannot be handled as sent, or None; cheap and bounded in every case."""
    size = len(received.body)
    if size > max_bytes:
        return ErrorInfo(
            code=ErrorCode.MESSAGE_TOO_LARGE,
            message=f"the body has {size} bytes; at most {max_bytes} are taken",
        )
    if received.reply_to and not reply_address_allowed(received.reply_to):  # "" is none, as in reply()
        return ErrorInfo(
            code=ErrorCode.FORBIDDEN,
            message=f"reply_to must be {DIRECT_REPLY_TO} or a queue named by the broker (amq.gen-…); "
            f"a reply goes nowhere else (got {received.reply_to[:64]!r})",
        )
    if received.timestamp == UNREADABLE_TIMESTAMP:
        return _malformed("the timestamp property lies beyond year 9999")
    if received.header_problem is not None:
        return _malformed(received.header_problem)
    return None


def _malformed(why: str) -> ErrorInfo:
    return ErrorInfo(code=ErrorCode.MALFORMED_MESSAGE, message=why)
