"""Dead letters as plain values: read a dead-letter queue without losing anything, replay or discard.

async with broker(url) as connection:
    found = await inspect(connection, dead_letter_queues(None))
    settled = await replay(connection, dead_letter_queues("command-service.commands"), by_id("..."))

A replay runs with the operator's rights, and a dead letter's headers are the sender's words
(issue 20): one goes back only to the queue whose dead-letter queue holds it, and only if its body is
a message that queue's consumer runs (``refusal``); any other is left where it is, saying why.
"""

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage, HeadersType
from aio_pika.exceptions import (
    AMQPConnectionError,
    ChannelInvalidStateError,
    ChannelNotFoundEntity,
    DeliveryError,
)
from aiormq.exceptions import ChannelPreconditionFailed

from cqrs_client.errors import BrokerUnavailable, MalformedMessage, ReplayRefused
from cqrs_client.messaging.channels import broker_urls, connect_first
from cqrs_client.messaging.publishing import publish
from cqrs_client.messaging.topology import (
    COMMAND_QUEUE,
    EVENT_PARTITIONS,
    EVENT_QUEUE,
    OPERATIONS_QUEUE,
    QUERY_QUEUE,
    STREAM_QUEUE,
    TRANSFER_QUEUE,
    dead_letter_queue,
    exists,
    retry_queue,
)
from cqrs_contracts import (
    Command,
    Event,
    ListStreams,
    Operation,
    Query,
    ReadAll,
    ReadStream,
)
from cqrs_shared.messaging.parsing import load_json, members
from cqrs_shared.messaging.responder import copy

# The event queue's partitions (CQRS_EVENT_PARTITIONS) count where they exist (present()).
QUEUES = (
    COMMAND_QUEUE,
    STREAM_QUEUE,
    TRANSFER_QUEUE,
    EVENT_QUEUE,
    QUERY_QUEUE,
    OPERATIONS_QUEUE,
    *EVENT_PARTITIONS,
)
_ORIGIN = {dead_letter_queue(queue): queue for queue in QUEUES}
_PARTITIONS = frozenset(EVENT_PARTITIONS) | {dead_letter_queue(queue) for queue in EVENT_PARTITIONS}
CONNECT_TIMEOUT_SECONDS = 5.0
GET_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 60.0
ACK_TIMEOUT_SECONDS = 5.0
MAX_MESSAGES = 10_000
# Headers named x-* record the message's failed journey: the reason and origin of its dead-lettering,
# its retry attempts, the broker's x-death. A replay starts afresh (a new retry budget) without them.
_SPENT = "x-"
# A body is judged only up to the largest any service takes (CQRS_MAX_MESSAGE_BYTES at most, the
# brokers' max_message_size): a larger one is refused before it is parsed.
MAX_JUDGED_BYTES = 1_048_576
_IMPERSONATE = (
    "A letter goes back as its sender published it, which the broker allows only a user tagged "
    "impersonator: the admin role (cqrs broker grant admin USER)"
)
# What a header names is printed at most this long: it is the sender's text.
_SHOWN = 80
# A retry queue's name is its queue's and this (topology.retry_queue); it expires into its queue.
_RETRY_INFIX = retry_queue("", 0).removesuffix("0s")


def _types(union: object) -> frozenset[str]:
    return frozenset(str(model.model_fields["type"].default) for model in members(union))


# What each work queue's consumer runs, by the type the body names: the contracts' unions. An event
# queue's body is an envelope, the type that of its "event" (the transfer process manager's too).
_EVENT_QUEUES = frozenset({EVENT_QUEUE, TRANSFER_QUEUE, *EVENT_PARTITIONS})
_TAKES: dict[str, frozenset[str]] = {
    COMMAND_QUEUE: _types(Command),
    STREAM_QUEUE: _types(ReadStream | ListStreams | ReadAll),
    QUERY_QUEUE: _types(Query),
    OPERATIONS_QUEUE: _types(Operation),
    **dict.fromkeys(_EVENT_QUEUES, _types(Event)),
}


@dataclass(frozen=True)
class DeadLetter:
    """One message of a dead-letter queue, as the broker holds it."""

    queue: str
    body: bytes
    headers: HeadersType
    message_id: str | None
    type: str | None
    correlation_id: str | None
    reply_to: str | None
    content_type: str | None
    timestamp: datetime | None
    user_id: str | None = None

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        if isinstance(value, bytes):
            return value.decode(errors="replace")
        return None if value is None else str(value)

    @property
    def error_code(self) -> str | None:
        return self.header("x-error-code")

    @property
    def reason(self) -> str | None:
        """Ours, or the broker's (x-first-death-reason: a quorum queue's delivery_limit, say)."""
        broker = self.header("x-first-death-reason")
        return self.header("x-error-message") or (broker and f"dead-lettered by the broker: {broker}")

    @property
    def original_queue(self) -> str:
        """Where it says it came from: the broker's x-death if it has one, else our x-original-queue,
        else the queue of its dead-letter queue. Only ``refusal`` says where it may go back."""
        died_in = _died_in(self.headers)
        if died_in is not None:
            return died_in or "?"
        return self.header("x-original-queue") or _ORIGIN.get(self.queue, self.queue)


@dataclass(frozen=True)
class Found:
    """What one dead-letter queue holds (at most MAX_MESSAGES of its ``depth``)."""

    queue: str
    present: bool
    depth: int = 0
    letters: list[DeadLetter] = field(default_factory=list)


@dataclass(frozen=True)
class Settled:
    """What a replay or discard did in one dead-letter queue."""

    queue: str
    done: list[DeadLetter] = field(default_factory=list)
    failed: list[tuple[DeadLetter, str]] = field(default_factory=list)


Wanted = Callable[[DeadLetter], bool]


def dead_letter_queues(queue: str | None) -> list[str]:
    """The dead-letter queues of ``queue`` (its own or its ``.dlq`` name), or all; ValueError if unknown."""
    if queue is None:
        return list(_ORIGIN)
    name = _ORIGIN.get(queue, queue)
    if name not in QUEUES:
        known = ", ".join(QUEUES[:6])
        raise ValueError(
            f"unknown queue {queue!r}; one of {known}, {EVENT_QUEUE}.N (or their dead-letter queues)"
        )
    return [dead_letter_queue(name)]


def refusal(letter: DeadLetter) -> str | None:
    """Why ``letter`` may not be replayed, or None. Never raises: it judges a stranger's bytes.

    It goes back only to the queue whose dead-letter queue holds it: no header can send it elsewhere.
    The broker's x-death, where there is one, must say it died there (a client can forge our
    x-original-queue on a message the broker dead-letters: an expiration, a delivery limit); without
    x-death one of our services dead-lettered it, and its x-original-queue must agree.
    """
    origin = _ORIGIN.get(letter.queue)
    if origin is None:
        return f"{letter.queue} is not a dead-letter queue of the pair"
    died_in = _died_in(letter.headers)
    if died_in == "":
        return "its x-death header is not the broker's (a list of tables, the first naming a queue)"
    claimed = letter.original_queue
    if claimed != origin:
        source = "its x-original-queue header" if died_in is None else "the broker's x-death"
        return (
            f"{source} says it came from {claimed[:_SHOWN]!r}, but it lies in {letter.queue}, "
            f"whose messages go back only to {origin}"
        )
    return _misfit(letter, origin)


def by_id(message_id: str) -> Wanted:
    return lambda letter: letter.message_id == message_id


def every(letter: DeadLetter) -> bool:
    return True


@asynccontextmanager
async def broker(url: str, timeout: float = CONNECT_TIMEOUT_SECONDS) -> AsyncIterator[AbstractConnection]:
    """A connection (waited for ``timeout`` s); failing to reach the broker, or losing it, is
    BrokerUnavailable."""
    try:
        connection = await connect_first(broker_urls(url), timeout)
    except (OSError, AMQPConnectionError, TimeoutError) as error:
        why = str(error) or type(error).__name__  # a TimeoutError says nothing itself
        raise BrokerUnavailable(f"cannot reach RabbitMQ at {_safe(url)}: {why}") from None
    try:
        async with connection:
            yield connection
    except (ConnectionError, AMQPConnectionError, ChannelInvalidStateError) as error:
        raise BrokerUnavailable(f"lost RabbitMQ at {_safe(url)}: {error}") from None


async def present(connection: AbstractConnection, queues: Sequence[str]) -> list[str]:
    """``queues`` less the event partitions' that do not exist. Partitions are numbered from 0
    without a gap, so the first missing one ends them: no more are asked for."""
    kept, ended = [], False
    for queue in queues:
        if queue in _PARTITIONS:
            ended = ended or not await exists(connection, queue, GET_TIMEOUT_SECONDS)
            if ended:
                continue
        kept.append(queue)
    return kept


async def inspect(connection: AbstractConnection, queues: Sequence[str]) -> list[Found]:
    """Every dead letter of ``queues``; all are put back."""
    found = []
    for queue in await present(connection, queues):
        async with _held(connection, queue) as (_, depth, held):
            found.append(Found(queue, depth is not None, depth or 0, [letter for _, letter in held]))
    return found


async def discard(connection: AbstractConnection, queues: Sequence[str], wanted: Wanted) -> list[Settled]:
    """Remove the wanted dead letters (ack them); the others are put back."""
    return [
        await _settle(connection, queue, wanted, replaying=False)
        for queue in await present(connection, queues)
    ]


async def replay(connection: AbstractConnection, queues: Sequence[str], wanted: Wanted) -> list[Settled]:
    """Send the wanted dead letters back to their queues, confirmed, and only then remove them; one
    that ``refusal`` refuses stays, in ``failed`` with the reason.

    Interrupted half way, a message may be both back in its queue and still here: replaying it
    again is harmless, as commands are idempotent by message id and projections version-gated.
    """
    return [
        await _settle(connection, queue, wanted, replaying=True)
        for queue in await present(connection, queues)
    ]


async def _settle(connection: AbstractConnection, queue: str, wanted: Wanted, *, replaying: bool) -> Settled:
    settled = Settled(queue)
    async with _held(connection, queue) as (channel, _, held):
        for message, letter in held:
            if not wanted(letter):
                continue
            if replaying:
                # Refused or not sent, it is not acked: closing the channel puts it back.
                why = refusal(letter)
                if why is not None:
                    settled.failed.append((letter, f"refused: {why}"))
                    continue
                try:
                    await publish(
                        channel.default_exchange, _replayed(letter), letter.original_queue, mandatory=True
                    )
                except (DeliveryError, TimeoutError) as error:
                    settled.failed.append((letter, f"not sent to {letter.original_queue}: {error!r}"))
                    continue
                except ChannelPreconditionFailed as error:  # the channel is gone: nothing more here
                    raise ReplayRefused(f"{error}. {_IMPERSONATE}") from None
            async with asyncio.timeout(ACK_TIMEOUT_SECONDS):
                await message.ack()
            settled.done.append(letter)
    return settled


@asynccontextmanager
async def _held(
    connection: AbstractConnection, queue: str
) -> AsyncIterator[tuple[AbstractChannel, int | None, list[tuple[AbstractIncomingMessage, DeadLetter]]]]:
    """Take the queue's messages without acking them: nobody else gets them while they are held.

    AMQP has no peek. Closing the channel puts back every message not acked, in its place; the
    depth taken first bounds the reading, so messages dead-lettered meanwhile wait for next time.
    Yields the channel (with publisher confirms), the depth (None: no such queue) and the messages.
    """
    held: list[tuple[AbstractIncomingMessage, DeadLetter]] = []
    async with connection.channel(publisher_confirms=True) as channel:
        try:
            declared = await channel.declare_queue(queue, passive=True, timeout=GET_TIMEOUT_SECONDS)
        except ChannelNotFoundEntity:  # the broker has closed the channel; nothing to hold
            declared = None
        depth = None if declared is None else declared.declaration_result.message_count or 0
        async with asyncio.timeout(READ_TIMEOUT_SECONDS):
            while declared is not None and len(held) < min(depth or 0, MAX_MESSAGES):
                message = await declared.get(fail=False, timeout=GET_TIMEOUT_SECONDS)
                if message is None:
                    break
                held.append((message, _letter(queue, message)))
        yield channel, depth, held


def _letter(queue: str, message: AbstractIncomingMessage) -> DeadLetter:
    return DeadLetter(
        queue=queue,
        body=message.body,
        headers=dict(message.headers or {}),
        message_id=message.message_id,
        type=message.type,
        correlation_id=message.correlation_id,
        reply_to=message.reply_to,
        content_type=message.content_type,
        timestamp=message.timestamp,
        user_id=message.user_id,
    )


def _died_in(headers: HeadersType) -> str | None:
    """The queue the broker last dead-lettered the message from (x-death's first table is the most
    recent death), or None without x-death; "" if x-death is not the shape the broker writes.

    A retry queue's death is its expiry back into its own queue (topology.declare_queue): where it
    was then, and where a service that dead-lettered it afterwards (keeping its headers) found it.
    """
    deaths = headers.get("x-death")
    if deaths is None:
        return None
    latest = deaths[0] if isinstance(deaths, list | tuple) and deaths else None
    queue = latest.get("queue") if isinstance(latest, Mapping) else None
    if isinstance(queue, bytes):
        queue = queue.decode(errors="replace")
    if not isinstance(queue, str):
        return ""
    served, infix, _ = queue.rpartition(_RETRY_INFIX)
    return served if infix and served else queue


def _misfit(letter: DeadLetter, queue: str) -> str | None:
    """Why the body is not a message ``queue``'s consumer runs, or None: judged by the type the body
    names (an event's inside its envelope), which is what runs; a type property must agree with it."""
    takes = _TAKES.get(queue)
    if takes is None:
        return f"replay knows no messages of {queue}"
    try:
        named = _named_type(letter.body, enveloped=queue in _EVENT_QUEUES)
    except MalformedMessage as error:  # load_json: not JSON, too deep, an integer past 4,300 digits
        return f"not a message of {queue}: {str(error)[:200]}"
    if named not in takes:
        return f"the body is a {named[:_SHOWN]!r}, not a message {queue} takes"
    if letter.type and letter.type != named:
        return f"the body is a {named[:_SHOWN]!r}, but its type property says {letter.type[:_SHOWN]!r}"
    return None


def _named_type(body: bytes, *, enveloped: bool) -> str:
    """The type ``body`` names; MalformedMessage if it names none (or is too large to read)."""
    if len(body) > MAX_JUDGED_BYTES:
        raise MalformedMessage(f"the body has {len(body)} bytes; no service takes {MAX_JUDGED_BYTES}+")
    data = load_json(body)
    if enveloped:
        data = data.get("event") if isinstance(data, dict) else None
    named = data.get("type") if isinstance(data, dict) else None
    if not isinstance(named, str):
        raise MalformedMessage('the body names no "type"' + (' in its "event"' if enveloped else ""))
    return named


def _replayed(letter: DeadLetter) -> aio_pika.Message:
    """The message as first sent: its ids, properties and headers, without the x-* ones, and its
    user_id: the operator's role is the broker's administrator and may impersonate, so the letter's
    receiver judges who sent it exactly as it did the first time (senders.py)."""
    headers = {name: value for name, value in letter.headers.items() if not name.startswith(_SPENT)}
    return copy(letter, headers, user_id=letter.user_id)


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"
