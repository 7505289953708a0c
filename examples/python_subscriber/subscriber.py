"""Subscribe to the pair's events as a subscriber user; keep each customer's balance total (ledger.py).

    CQRS_SUBSCRIBER_URL=amqp://ledger:secret@127.0.0.1:5672/cqrs \\
        uv run python examples/python_subscriber/subscriber.py --database ledger.sqlite3

Declares its queue subscriber.<user> (its dead letters: subscriber.<user>.dlx and .dlq) and binds it
to cqrs.events first; then catches up: reads the history after the ledger's position (0 on a new
database) from the command side (history.py) until it is at the head; then consumes its queue, where
what it read already is a duplicate by position. Prints one JSON line per event it settles, until
SIGINT or SIGTERM.
"""

import argparse
import asyncio
import json
import os
import signal
import sys
from contextlib import closing, suppress
from urllib.parse import unquote, urlsplit

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractQueueIterator,
    FieldValue,
)
from history import PAGE, History, Refused  # beside this file
from ledger import Handled, Ledger
from pydantic import ValidationError

from cqrs_client.messaging import topology
from cqrs_contracts import STREAM_TYPES, AccountEvent, EventEnvelope
from cqrs_contracts.events import unreadable

BINDING_KEYS = [f"{stream}.*" for stream in STREAM_TYPES]  # customer.*, account.*, transfer.*
PREFETCH = 32
MAX_REASON = 300  # characters of a reason printed: a hostile body must not make the output huge


def emit(line: dict[str, object]) -> None:
    print(json.dumps(line, default=str), flush=True)


async def declare(channel: AbstractChannel, user: str) -> tuple[AbstractQueue, AbstractExchange]:
    """The queue, bound to the events; what it rejects goes to its own dead-letter queue (through
    the exchange returned, where catching up sets aside what it cannot read too)."""
    dlx = topology.subscriber_queue(user, "dlx")
    dead_letters = await channel.declare_exchange(dlx, aio_pika.ExchangeType.FANOUT, durable=True)
    dlq = await channel.declare_queue(topology.subscriber_queue(user, "dlq"), durable=True)
    await dlq.bind(dead_letters)
    arguments: dict[str, FieldValue] = {"x-dead-letter-exchange": dlx}
    queue = await channel.declare_queue(topology.subscriber_queue(user), durable=True, arguments=arguments)
    for key in BINDING_KEYS:
        await queue.bind(topology.EVENTS_EXCHANGE, routing_key=key)
    return queue, dead_letters


def read(body: bytes) -> EventEnvelope | str:
    """The envelope, its event upcast to the schema version this code knows; or why it cannot be."""
    try:
        data = json.loads(body)
    except ValueError:
        return "the body is not JSON"
    return envelope_of(data)


def envelope_of(data: object) -> EventEnvelope | str:
    why = unreadable(data)  # a newer schema version, or an event or stream type this code does not know
    if why is not None:
        return why
    try:
        return EventEnvelope.model_validate(data)
    except ValidationError as error:
        return f"not an event envelope: {error.errors()[0]['msg']}"


def line(handled: Handled, ledger: Ledger, source: str) -> dict[str, object]:
    envelope = handled.envelope
    found: dict[str, object] = {
        "outcome": handled.outcome,
        "event_id": envelope.event_id,
        "type": envelope.event.type,
        "stream_id": envelope.stream_id,
        "version": envelope.version,
        "position": envelope.position,
        "from": source,  # "history" (catching up) or "live" (the queue)
    }
    if handled.outcome == "gap":
        found["missing"] = [handled.seen_version + 1, envelope.version - 1]
    if isinstance(envelope.event, AccountEvent):
        found["customer_id"] = envelope.event.customer_id
        found["totals"] = ledger.totals(envelope.event.customer_id)
    return found


async def handle(message: AbstractIncomingMessage, ledger: Ledger) -> None:
    """Apply, then ack; an unreadable event to the dead letters. An error on the way rejects it
    there too, rather than taking it back and failing again for ever."""
    async with message.process(requeue=False, ignore_processed=True):
        envelope = read(message.body)
        if isinstance(envelope, str):
            await message.reject()
            reason = envelope[:MAX_REASON]
            emit({"outcome": "dead-lettered", "message_id": message.message_id, "reason": reason})
            return
        # A live event's position is a header (a body with it would break older readers).
        position = (message.headers or {}).get(topology.POSITION_HEADER)
        if isinstance(position, int) and not isinstance(position, bool) and position > 0:
            envelope = envelope.model_copy(update={"position": position})
        handled = ledger.apply(envelope)  # at or below the ledger's position: a duplicate
        await message.ack()
    emit(line(handled, ledger, "live"))


async def catch_up(history: History, ledger: Ledger, dead_letters: AbstractExchange) -> int:
    """Read the history after the ledger's position, page by page, until a page comes back short
    (the reader is at the head); apply each event, or set it aside. The head last read."""
    after = ledger.position
    while True:
        events, head = await history.page(after)
        for position, data in enumerate(events, start=after + 1):  # positions are gap-free
            envelope = envelope_of(data)
            if isinstance(envelope, str):
                await set_aside(data, envelope, dead_letters)
                ledger.set_aside(position)
            else:
                emit(line(ledger.apply(envelope), ledger, "history"))
        after += len(events)
        if len(events) < PAGE:
            return head


async def set_aside(data: object, reason: str, dead_letters: AbstractExchange) -> None:
    """An event read from the history that this code cannot read, into the dead-letter queue."""
    event_id = str(data.get("event_id")) if isinstance(data, dict) else None
    body = json.dumps(data).encode()
    reason = reason[:MAX_REASON]
    headers: dict[str, FieldValue] = {"x-reason": reason}
    await dead_letters.publish(aio_pika.Message(body, message_id=event_id, headers=headers), routing_key="")
    emit({"outcome": "dead-lettered", "message_id": event_id, "reason": reason, "from": "history"})


async def close_on(stopping: asyncio.Event, messages: AbstractQueueIterator) -> None:
    await stopping.wait()
    await messages.close()  # no new deliveries; the one in hand is finished; the rest go back


async def main(url: str, database: str) -> None:
    stopping = asyncio.Event()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})  # a harness may block them
    for stop in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(stop, stopping.set)
    user = unquote(urlsplit(url).username or "")
    with closing(Ledger.open(database)) as ledger:
        connection = await aio_pika.connect_robust(url)
        async with connection:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=PREFETCH)
            # Bound before reading the history: an event committed meanwhile is in the history read,
            # or waits in the queue (or both: then the queue's copy is a duplicate by position).
            queue, dead_letters = await declare(channel, user)
            emit({"catching_up": ledger.position})
            history = await History.open(connection, user)
            try:
                head = await catch_up(history, ledger, dead_letters)
            except (Refused, TimeoutError) as failed:  # forbidden: not in CQRS_EVENT_READERS
                code = failed.code if isinstance(failed, Refused) else "timeout"
                emit({"outcome": "not caught up", "code": code, "reason": str(failed)[:MAX_REASON]})
                sys.exit(1)
            finally:
                await history.close()
            emit({"caught_up": ledger.position, "head": head})
            async with queue.iterator() as messages:
                closing_task = asyncio.create_task(close_on(stopping, messages))
                emit({"ready": queue.name})
                async for message in messages:
                    await handle(message, ledger)
                closing_task.cancel()  # done already, unless the consumer ended on its own
                with suppress(asyncio.CancelledError):
                    await closing_task


if __name__ == "__main__":
    about = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=about)
    parser.add_argument("--database", default="ledger.sqlite3", help="the SQLite file (default: %(default)s)")
    database = parser.parse_args().database
    url = os.environ.get("CQRS_SUBSCRIBER_URL")
    if not url:
        sys.exit("CQRS_SUBSCRIBER_URL: not set (amqp://USER:PASSWORD@HOST:5672/cqrs, a subscriber user)")
    asyncio.run(main(url, database))
