"""Run a handler over a queue: reply, dead-letter, ack. The one place that owns acknowledgement.

async with Consumer(queue, handle, responder, transient=is_transient):
    await stopped.wait()   # leaving the block cancels, then lets in-flight messages finish
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from aio_pika.exceptions import AMQPError

from cqrs_shared.contracts.base import Contract, ErrorCode, ErrorInfo
from cqrs_shared.contracts.replies import QueryFailed
from cqrs_shared.messaging.channels import close_bounded
from cqrs_shared.messaging.envelope import Delivery, delivery, outgoing
from cqrs_shared.messaging.publishing import publish
from cqrs_shared.messaging.topology import DEAD_LETTER_EXCHANGE

log = logging.getLogger(__name__)

REQUEUE_DELAY_SECONDS = 1.0
DRAIN_TIMEOUT_SECONDS = 30.0
SETTLE_TIMEOUT_SECONDS = 5.0


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


class Responder:
    """Publishes replies (no confirms, not mandatory) and dead letters (with confirms)."""

    def __init__(self, reply_channel: AbstractChannel, dead_letter_channel: AbstractChannel) -> None:
        self._replies = reply_channel
        self._dead_letters = dead_letter_channel

    async def reply(self, to: Delivery, body: Contract) -> None:
        if not to.reply_to:
            return
        status = getattr(body, "status", "reply")
        message = outgoing(
            body.model_dump_json().encode(), to.reply_metadata(f"reply.{status}"), persistent=False
        )
        # mandatory=False: a reply to amq.rabbitmq.reply-to with mandatory comes back as returned.
        await publish(self._replies.default_exchange, message, to.reply_to, mandatory=False)

    async def dead_letter(self, queue: str, message: AbstractIncomingMessage, why: ErrorInfo) -> None:
        """Copy ``message`` into ``queue``'s dead-letter queue, the reason in its headers."""
        headers = dict(message.headers or {})
        headers.update(
            {
                "x-error-code": why.code.value,
                "x-error-message": why.message[:1000],
                "x-original-queue": queue,
                "x-original-routing-key": message.routing_key or "",
            }
        )
        copy = aio_pika.Message(
            message.body,
            headers=headers,
            content_type=message.content_type,
            message_id=message.message_id,
            type=message.type,
            correlation_id=message.correlation_id,
            reply_to=message.reply_to,
            timestamp=message.timestamp,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        exchange = await self._dead_letters.get_exchange(DEAD_LETTER_EXCHANGE, ensure=False)
        await publish(exchange, copy, queue, mandatory=True)


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
    ) -> None:
        self._queue = queue
        self._handle = handle
        self._responder = responder
        self._transient = transient
        self._error_reply = error_reply
        self._tag: str | None = None
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def __aenter__(self) -> "Consumer":
        self._tag = await self._queue.consume(self._on_message)
        log.info("consuming %s", self._queue.name)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._tag is not None:
            await close_bounded(
                f"consumer of {self._queue.name}", lambda: self._queue.cancel(self._tag or "")
            )
        try:
            await asyncio.wait_for(self._idle.wait(), DRAIN_TIMEOUT_SECONDS)
        except TimeoutError:
            log.warning("%s: %d messages still in flight at shutdown", self._queue.name, self._in_flight)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self._in_flight += 1
        self._idle.clear()
        try:
            await self._process(message)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _process(self, message: AbstractIncomingMessage) -> None:
        received = delivery(message)
        try:
            outcome = await self._handle(received)
        except Exception as error:
            if self._transient(error):
                log.warning("%s: transient failure, requeueing: %r", self._queue.name, error)
                await asyncio.sleep(REQUEUE_DELAY_SECONDS)
                await self._finish(message, ack=False)
                return
            log.exception("%s: handler failed on message %s", self._queue.name, message.message_id)
            info = ErrorInfo(code=ErrorCode.INTERNAL_ERROR, message=f"{type(error).__name__}: {error}")
            outcome = Outcome(reply=self._error_reply(info), dead_letter=info)
        await self._settle(message, received, outcome)

    async def _settle(self, message: AbstractIncomingMessage, received: Delivery, outcome: Outcome) -> None:
        try:
            if outcome.reply is not None:
                await self._responder.reply(received, outcome.reply)
            if outcome.dead_letter is not None:
                log.warning(
                    "%s: dead-lettered %s: %s",
                    self._queue.name,
                    message.message_id,
                    outcome.dead_letter.message,
                )
                await self._responder.dead_letter(self._queue.name, message, outcome.dead_letter)
        except Exception:
            log.exception("%s: could not reply or dead-letter; requeueing", self._queue.name)
            await asyncio.sleep(REQUEUE_DELAY_SECONDS)
            await self._finish(message, ack=False)
            return
        await self._finish(message, ack=True)

    async def _finish(self, message: AbstractIncomingMessage, *, ack: bool) -> None:
        """Ack, or nack to requeue, within a deadline (an ack's write can hang like a publish's).

        One that fails is harmless: the broker redelivers the message once its channel is gone,
        and every handler is idempotent.
        """
        try:
            async with asyncio.timeout(SETTLE_TIMEOUT_SECONDS):
                await (message.ack() if ack else message.nack(requeue=True))
        except (TimeoutError, AMQPError, RuntimeError) as error:
            log.warning(
                "%s: could not settle %s (%r); the broker redelivers it",
                self._queue.name,
                message.message_id,
                error,
            )
