"""Run a handler over a queue: reply, retry, dead-letter, ack. The one place that owns acknowledgement.

async with Consumer(queue, handle, responder, transient=is_transient, retry=policy):
    await stopped.wait()   # leaving the block lets in-flight messages finish, then cancels

First the screen (screening.py) refuses what cannot be handled as sent (too large, a reply address
the sender may not name, unreadable properties): answered where it may be, and dead-lettered. Then
a failure is one of three kinds. An outage (``transient``) is requeued after a pause, within a budget
per message (requeues.py). Any other exception, and an outage past that budget, is retried with a
budget (``retry``), each wait held by the broker, then the message is parked in the dead-letter
queue. A message that cannot be handled as sent is answered and dead-lettered by the handler itself
(its Outcome).
"""

import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType

from aio_pika.abc import AbstractIncomingMessage, AbstractQueue

from cqrs_client.errors import ReplyTooLarge
from cqrs_client.messaging.channels import close_bounded
from cqrs_client.messaging.envelope import Delivery, delivery
from cqrs_client.messaging.publishing import BROKER_FAILURES
from cqrs_client.messaging.topology import retry_queue
from cqrs_client.tracing import trace_id
from cqrs_contracts.base import Contract, ErrorCode, ErrorInfo
from cqrs_contracts.replies import QueryFailed
from cqrs_shared.messaging.requeues import REQUEUE_BUDGET, RequeueBudget
from cqrs_shared.messaging.responder import Responder, attempt_of
from cqrs_shared.messaging.retry import RetryPolicy
from cqrs_shared.messaging.screening import screen
from cqrs_shared.observability import metrics
from cqrs_shared.observability.logs import message_context

log = logging.getLogger(__name__)

REQUEUE_DELAY_SECONDS = 1.0
# A third of the default stop budget (CQRS_DRAIN_SECONDS, drain.py), which bounds the whole stop.
DRAIN_TIMEOUT_SECONDS = 10.0
SETTLE_TIMEOUT_SECONDS = 5.0
DEFAULT_MAX_BYTES = 65_536


@dataclass(frozen=True)
class Outcome:
    """What to do with a handled message: reply (when it has reply_to), dead-letter, then ack."""

    reply: Contract | None = None
    dead_letter: ErrorInfo | None = None


Handler = Callable[[Delivery], Awaitable[Outcome]]
IsTransient = Callable[[BaseException], bool]
ErrorReply = Callable[[ErrorInfo], Contract]


def query_error(info: ErrorInfo) -> Contract:
    return QueryFailed(error=info)


class Consumer:
    """Consumes ``queue`` with ``handle``; never lets one message stop the others."""

    def __init__(
        self,
        queue: AbstractQueue,
        handle: Handler,
        responder: Responder,
        *,
        transient: IsTransient,
        error_reply: ErrorReply = query_error,
        retry: RetryPolicy | None = None,
        types: frozenset[str] = frozenset(),
        max_bytes: int = DEFAULT_MAX_BYTES,
        requeues: int = REQUEUE_BUDGET,
    ) -> None:
        self._queue = queue
        self._handle = handle
        self._responder = responder
        self._transient = transient
        self._error_reply = error_reply
        self._retry = retry
        self._types = types  # the message types worth a metric label of their own
        self._max_bytes = max_bytes
        self._requeues = RequeueBudget(queue.name, requeues)
        self._tag: str | None = None
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        # Once leaving: what arrives is left unacknowledged, for its channel's close to hand back.
        self._leaving = False

    async def __aenter__(self) -> "Consumer":
        self._tag = await self._queue.consume(self._on_message)
        log.info("consuming %s", self._queue.name)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Finish the messages in flight, then cancel: in that order, so that on a single-active-
        consumer queue the next consumer begins only once this one has settled all it handled."""
        self._leaving = True
        try:
            await asyncio.wait_for(self._idle.wait(), DRAIN_TIMEOUT_SECONDS)
        except TimeoutError:
            log.warning("%s: %d messages still in flight at shutdown", self._queue.name, self._in_flight)
        if self._tag is not None:
            await close_bounded(
                f"consumer of {self._queue.name}", lambda: self._queue.cancel(self._tag or "")
            )

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        if self._leaving:
            return
        self._in_flight += 1
        self._idle.clear()
        started = time.perf_counter()
        kind = "other"
        try:
            # Everything that reads the message is inside this block: a message that makes any step
            # raise is settled (answered, dead-lettered) like any other, never left holding its slot.
            received = delivery(message, self._responder.publisher)
            kind = received.type if received.type in self._types else "other"
            with message_context(
                message_id=received.message_id,
                correlation_id=received.correlation_id,
                type=received.type,
                trace_id=trace_id(received.traceparent),
            ):
                outcome, code = await self._process(message, received)
                took = time.perf_counter() - started
                # One line a message, in its context (ids, trace): what an operator searches by.
                said = f"{outcome} {code}" if code else outcome
                log.info("%s %s: %s in %.1f ms", self._queue.name, kind, said, took * 1000)
            metrics.MESSAGES.labels(self._queue.name, kind, outcome, code).inc()
        except Exception:
            # Only a defect of ours lands here (delivery() and _process settle everything they can).
            log.exception("%s: could not process message %s", self._queue.name, message.message_id)
            await self._give_back(message)
        finally:
            metrics.HANDLING.labels(self._queue.name, kind).observe(time.perf_counter() - started)
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _process(self, message: AbstractIncomingMessage, received: Delivery) -> tuple[str, str]:
        """Handle and settle ``message``; (outcome, error code) for the metrics."""
        try:
            outcome = self._screened(received) or await self._handle(received)
        except Exception as error:
            if self._transient(error) and self._requeues.allow(message):
                log.warning("%s: transient failure, requeueing: %r", self._queue.name, error)
                await asyncio.sleep(REQUEUE_DELAY_SECONDS)
                await self._finish(message, ack=False)
                return "requeued", ""
            if await self._retried(message, error):
                return "retried", ErrorCode.INTERNAL_ERROR.value
            log.exception("%s: handler failed on message %s", self._queue.name, message.message_id)
            info = ErrorInfo(code=ErrorCode.INTERNAL_ERROR, message=f"{type(error).__name__}: {error}")
            outcome = Outcome(reply=self._error_reply(info), dead_letter=info)
        if not await self._settle(message, received, outcome):
            return "requeued", ""
        return _label(outcome)

    def _screened(self, received: Delivery) -> Outcome | None:
        """A message the screen refuses is answered (where it may be) and dead-lettered unparsed."""
        info = screen(received, max_bytes=self._max_bytes)
        if info is None:
            return None
        return Outcome(reply=self._error_reply(info), dead_letter=info)

    async def _retried(self, message: AbstractIncomingMessage, error: Exception) -> bool:
        """Send ``message`` to wait in a retry queue if its budget allows; then ack it here."""
        attempt = attempt_of(message)
        wait = None if self._retry is None else self._retry.wait(attempt)
        if self._retry is None or wait is None:
            return False
        why = f"{type(error).__name__}: {error}"
        log.warning("%s: attempt %d failed (%s); retrying in %.1f s", self._queue.name, attempt, why, wait)
        target = retry_queue(self._queue.name, self._retry.level(attempt))
        try:
            await self._responder.retry(target, message, attempt + 1, wait, why)
        except Exception:
            await self._requeue(message, "could not schedule a retry")
            return True
        await self._finish(message, ack=True)
        return True

    async def _settle(self, message: AbstractIncomingMessage, received: Delivery, outcome: Outcome) -> bool:
        """Reply, dead-letter, ack; False when it had to be requeued instead."""
        try:
            if outcome.reply is not None:
                await self._reply(received, outcome.reply)
            if outcome.dead_letter is not None:
                log.warning(
                    "%s: dead-lettered %s: %s",
                    self._queue.name,
                    message.message_id,
                    outcome.dead_letter.message,
                )
                await self._responder.dead_letter(self._queue.name, message, outcome.dead_letter)
        except Exception:
            await self._requeue(message, "could not reply or dead-letter")
            return False
        await self._finish(message, ack=True)
        return True

    async def _reply(self, received: Delivery, reply: Contract) -> None:
        try:
            await self._responder.reply(received, reply)
        except ReplyTooLarge as error:
            await self._responder.reply(received, self._error_reply(error.info))

    async def _give_back(self, message: AbstractIncomingMessage) -> None:
        """After a defect of ours on ``message``: back to the broker after a pause, within its requeue
        budget, so it holds no prefetch slot; past the budget, parked in the dead-letter queue, so
        that it cannot loop for ever."""
        if self._requeues.allow(message):
            await asyncio.sleep(REQUEUE_DELAY_SECONDS)
            await self._finish(message, ack=False)
            return
        info = ErrorInfo(
            code=ErrorCode.INTERNAL_ERROR, message="the service fails on this message every time"
        )
        try:
            await self._responder.dead_letter(self._queue.name, message, info)
        except Exception:
            await self._requeue(message, "could not dead-letter a message it fails on")
            return
        await self._finish(message, ack=True)

    async def _requeue(self, message: AbstractIncomingMessage, why: str) -> None:
        """After a failure to publish what settles ``message``: log it, pause, hand it back. The
        broker's failure (a connection lost, which comes back by itself) is a warning; any other an
        error."""
        level = logging.WARNING if isinstance(sys.exception(), BROKER_FAILURES) else logging.ERROR
        log.log(level, "%s: %s; requeueing", self._queue.name, why, exc_info=True)
        await asyncio.sleep(REQUEUE_DELAY_SECONDS)
        await self._finish(message, ack=False)

    async def _finish(self, message: AbstractIncomingMessage, *, ack: bool) -> None:
        """Ack, or nack to requeue, within a deadline (an ack's write can hang like a publish's).

        One that fails is harmless: the broker redelivers the message once its channel is gone,
        and every handler is idempotent.
        """
        try:
            async with asyncio.timeout(SETTLE_TIMEOUT_SECONDS):
                await (message.ack() if ack else message.nack(requeue=True))
        except BROKER_FAILURES as error:
            log.warning(
                "%s: could not settle %s (%r); the broker redelivers it",
                self._queue.name,
                message.message_id,
                error,
            )


def _label(outcome: Outcome) -> tuple[str, str]:
    """The metric outcome of a settled message: dead_lettered, or its reply's status, or applied."""
    if outcome.dead_letter is not None:
        return "dead_lettered", outcome.dead_letter.code.value
    if outcome.reply is None:
        return "applied", ""
    # The reply's fields as a dict: a field it lacks (``error`` of an ok reply) is no AttributeError,
    # which pydantic raises on a slow path (3 % of the query service's CPU at GetCustomer, profiled).
    fields = vars(outcome.reply)
    error = fields.get("error")
    code = error.code.value if isinstance(error, ErrorInfo) else ""
    return str(fields.get("status", "replied")), code
