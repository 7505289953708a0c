"""Events an older query service could not handle, taken back at start by one that can.

During a rolling upgrade a newer command service may publish an event (a new schema version, a new
event type) before every query service knows it. The older one dead-letters it with
``unsupported_schema_version`` and goes on; the stream's later events then fail their gap repair
(the repair reads the same unknown event) and are dead-lettered as ``internal_error`` after their
retries. A new version is when both may succeed: at its start, a query service sends every event
dead letter of those two kinds that it can read back to the event queue. Projections are
version-gated: taking one back twice is harmless; one that fails again is dead-lettered again.
"""

import json
import logging

from aio_pika.abc import AbstractConnection
from aio_pika.exceptions import AMQPError

from cqrs_client.messaging.topology import dead_letter_queue
from cqrs_contracts import ErrorCode
from cqrs_contracts.events import unreadable
from cqrs_shared.messaging import dlq

log = logging.getLogger(__name__)


TAKEN_BACK = frozenset({ErrorCode.UNSUPPORTED_SCHEMA_VERSION.value, ErrorCode.INTERNAL_ERROR.value})


def readable_now(letter: dlq.DeadLetter) -> bool:
    """An event dead letter an older version could not read or handle, which this one reads."""
    if letter.error_code not in TAKEN_BACK:
        return False
    try:
        return unreadable(json.loads(letter.body)) is None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False


async def take_back(connection: AbstractConnection, queues: list[str]) -> int:
    """Replay the dead letters of the event ``queues`` this reader can now read; how many went back."""
    try:
        settled = await dlq.replay(connection, [dead_letter_queue(queue) for queue in queues], readable_now)
    except (AMQPError, TimeoutError) as error:
        log.warning("could not look for events an older reader left: %r", error)
        return 0
    taken = sum(len(each.done) for each in settled)
    if taken:
        log.info("took back %d event(s) an older version could not handle", taken)
    return taken
