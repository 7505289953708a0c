"""What a consumer sends besides acks: replies, dead letters, and retries held by the broker.

A dead letter and a retry are copies of the received message (ids, reply_to, headers kept), so a
replayed or retried message is the same message to its handler: idempotent, version-gated. A copy is
published as the service that made it and names the first sender (senders.py).
"""

from datetime import datetime
from typing import Protocol

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, HeadersType

from cqrs_client.errors import ReplyTooLarge
from cqrs_client.messaging.envelope import Delivery, outgoing
from cqrs_client.messaging.publishing import publish
from cqrs_client.messaging.senders import naming, sender
from cqrs_client.messaging.tolerant_frames import UNREADABLE_TIMESTAMP, encodable
from cqrs_client.messaging.topology import DEAD_LETTER_EXCHANGE
from cqrs_contracts.base import Contract, ErrorInfo
from cqrs_shared.messaging.reply_path import ReplyPath
from cqrs_shared.messaging.screening import reply_address_allowed
from cqrs_shared.observability import metrics

ATTEMPT_HEADER = "x-attempt"
# Longer than any client's call timeout: a reply is useless after it, and a client's own queue may
# outlive the client's interest.
REPLY_EXPIRATION_SECONDS = 300
# The brokers refuse a body over 1 MiB (max_message_size), closing the publishing channel: a larger
# answer (a page of customers with many accounts each) is refused here, as a structured error.
MAX_REPLY_BYTES = 1_000_000


def attempt_of(message: AbstractIncomingMessage) -> int:
    """Which attempt at ``message`` this is: 1, or what its last retry said."""
    value = (message.headers or {}).get(ATTEMPT_HEADER, 1)
    return value if isinstance(value, int) and value >= 1 else 1


class Sent(Protocol):
    """What a received message and a dead letter both hold: enough to send the message again."""

    @property
    def body(self) -> bytes: ...
    @property
    def headers(self) -> HeadersType: ...
    @property
    def content_type(self) -> str | None: ...
    @property
    def message_id(self) -> str | None: ...
    @property
    def type(self) -> str | None: ...
    @property
    def correlation_id(self) -> str | None: ...
    @property
    def reply_to(self) -> str | None: ...
    @property
    def timestamp(self) -> datetime | None: ...
    @property
    def user_id(self) -> str | None: ...


def copy(
    message: Sent, headers: HeadersType, expiration: float | None = None, *, user_id: str | None
) -> aio_pika.Message:
    """``message`` again with its ids and properties, carrying ``headers`` (not its own), persistent,
    published as ``user_id``; gone after ``expiration`` seconds. Dead letters, retries and replays
    are all made here.
    """
    return aio_pika.Message(
        message.body,
        headers=encodable(dict(headers)),
        content_type=message.content_type,
        message_id=message.message_id,
        type=message.type,
        correlation_id=message.correlation_id,
        reply_to=message.reply_to,
        # One pamqp could not read (tolerant_frames.py) is not sent on: it could not be encoded.
        timestamp=None if message.timestamp == UNREADABLE_TIMESTAMP else message.timestamp,
        user_id=user_id,
        expiration=expiration,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )


class Responder:
    """Publishes replies (by their ReplyPath), dead letters and retries (with confirms).

    Its connection's user is ``publisher``. A dead letter or retry is published as that user, naming
    the message's sender in a header (senders.py): no service may publish as another user.
    """

    def __init__(self, replies: ReplyPath, dead_letter_channel: AbstractChannel, publisher: str) -> None:
        self._replies = replies
        self._dead_letters = dead_letter_channel
        self.publisher = publisher

    async def reply(self, to: Delivery, body: Contract) -> None:
        """Answer ``to`` at its reply address: only one the screen allows (screening.py), never another."""
        if not to.reply_to or not reply_address_allowed(to.reply_to):
            return
        status = getattr(body, "status", "reply")
        encoded = body.model_dump_json().encode()
        if len(encoded) > MAX_REPLY_BYTES:
            raise ReplyTooLarge(len(encoded), MAX_REPLY_BYTES)
        message = outgoing(
            encoded,
            to.reply_metadata(f"reply.{status}", body.SCHEMA_VERSION),
            persistent=False,
        )
        # A reply nobody takes (its client gone) does not wait in a queue for ever.
        message.expiration = REPLY_EXPIRATION_SECONDS
        await self._replies.send(message, to.reply_to)

    async def dead_letter(self, queue: str, message: AbstractIncomingMessage, why: ErrorInfo) -> None:
        """Copy ``message`` into ``queue``'s dead-letter queue, the reason in its headers."""
        reason: HeadersType = {
            "x-error-code": why.code.value,
            "x-error-message": why.message[:1000],
            "x-original-queue": queue,
            "x-original-routing-key": message.routing_key or "",
        }
        exchange = await self._dead_letters.get_exchange(DEAD_LETTER_EXCHANGE, ensure=False)
        # copy() makes what pamqp decoded fit to be encoded again (tolerant_frames.encodable).
        await publish(exchange, self._copy(message, reason), queue, mandatory=True)
        metrics.DEAD_LETTERS.labels(queue, why.code.value).inc()

    async def retry(
        self, retry_queue: str, message: AbstractIncomingMessage, attempt: int, after: float, why: str
    ) -> None:
        """Park ``message`` in ``retry_queue`` for ``after`` seconds; the broker then puts it back."""
        headers: HeadersType = {ATTEMPT_HEADER: attempt, "x-last-error": why[:1000]}
        retried = self._copy(message, headers, expiration=max(0.001, after))
        await publish(self._dead_letters.default_exchange, retried, retry_queue, mandatory=True)

    def _copy(
        self, message: AbstractIncomingMessage, added: HeadersType, expiration: float | None = None
    ) -> aio_pika.Message:
        """``message`` with ``added`` headers, as this service, naming the message's sender."""
        headers = message.headers or {}
        named = sender(message.user_id, headers, self.publisher)
        return copy(message, naming({**headers, **added}, named), expiration, user_id=self.publisher)
