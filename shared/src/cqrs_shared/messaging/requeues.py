"""How often one message may be handed back to its queue for a transient failure before it goes on to
the retry queues (and, past their budget, the dead-letter queue).

An outage requeues a message after a pause, for as long as the budget lasts; without a budget, a
message that always fails "transiently" circulated for ever on a classic queue (issue 20), and on
RabbitMQ 4.3 and later a requeue no longer counts toward a quorum queue's delivery limit either.
Counted per message id in this process (bounded), and from the broker's ``x-delivery-count`` where a
quorum queue sets it: a message that travels between replicas is counted by the larger.
"""

import hashlib
from collections import OrderedDict

from aio_pika.abc import AbstractIncomingMessage

from cqrs_shared.observability import metrics

REQUEUE_BUDGET = 60  # with the consumer's 1 s pause: about a minute of outage per message
REMEMBERED = 10_000  # message ids whose count is kept; the oldest are forgotten first


class RequeueBudget:
    def __init__(self, queue: str, budget: int = REQUEUE_BUDGET, remembered: int = REMEMBERED) -> None:
        self._queue = queue
        self._budget = budget
        self._remembered = remembered
        self._counts: OrderedDict[str, int] = OrderedDict()

    def allow(self, message: AbstractIncomingMessage) -> bool:
        """True, and counted, if ``message`` may be requeued once more; False once its budget is spent."""
        # Without a message id, the body: a delivery tag is new at every delivery, and would never
        # run out (hashed only here, on a requeue, never on the ordinary path).
        key = message.message_id or f"body:{hashlib.blake2b(message.body, digest_size=16).hexdigest()}"
        count = max(self._counts.pop(key, 0), _broker_count(message)) + 1
        if count > self._budget:
            metrics.REQUEUES_EXHAUSTED.labels(self._queue).inc()
            return False
        self._counts[key] = count
        while len(self._counts) > self._remembered:
            self._counts.popitem(last=False)
        return True


def _broker_count(message: AbstractIncomingMessage) -> int:
    value = (message.headers or {}).get("x-delivery-count", 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
