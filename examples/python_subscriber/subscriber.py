"""Subscribe to the pair's events as a subscriber user; keep each customer's balance total (ledger.py).

    CQRS_SUBSCRIBER_URL=amqp://ledger:secret@127.0.0.1:5672/cqrs \\
        uv run python examples/python_subscriber/subscriber.py --database ledger.sqlite3

Declares its queue subscriber.<user> (its dead letters: subscriber.<user>.dlx and .dlq), binds it to
cqrs.events, then prints one JSON line per message it settles, until SIGINT or SIGTERM.
"""

import argparse
import asyncio
import json
import os
import signal
import sys
from contextlib import closing, suppress
from typing import get_args
from urllib.parse import unquote, urlsplit

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractQueueIterator,
    FieldValue,
)
from ledger import Handled, Ledger  # beside this file
from pydantic import ValidationError

from cqrs_client.messaging import topology
from cqrs_contracts import AccountEvent, EventEnvelope, StreamType
from cqrs_contracts.events import unreadable

BINDING_KEYS = [f"{stream}.*" for stream in get_args(StreamType)]  # customer.*, account.*
PREFETCH = 32
MAX_REASON = 300  # characters of a reason printed: a hostile body must not make the output huge


def emit(line: dict[str, object]) -> None:
    print(json.dumps(line, default=str), flush=True)


async def declare(channel: AbstractChannel, user: str) -> AbstractQueue:
    """The queue, bound to the events; what it rejects goes to its own dead-letter queue."""
    dlx = topology.subscriber_queue(user, "dlx")
    dead_letters = await channel.declare_exchange(dlx, aio_pika.ExchangeType.FANOUT, durable=True)
    dlq = await channel.declare_queue(topology.subscriber_queue(user, "dlq"), durable=True)
    await dlq.bind(dead_letters)
    arguments: dict[str, FieldValue] = {"x-dead-letter-exchange": dlx}
    queue = await channel.declare_queue(topology.subscriber_queue(user), durable=True, arguments=arguments)
    for key in BINDING_KEYS:
        await queue.bind(topology.EVENTS_EXCHANGE, routing_key=key)
    return queue


def read(body: bytes) -> EventEnvelope | str:
    """The envelope, its event upcast to the schema version this code knows; or why it cannot be."""
    try:
        data = json.loads(body)
    except ValueError:
        return "the body is not JSON"
    why = unreadable(data)  # a newer schema version, or an event type this code does not know
    if why is not None:
        return why
    try:
        return EventEnvelope.model_validate(data)
    except ValidationError as error:
        return f"not an event envelope: {error.errors()[0]['msg']}"


def line(handled: Handled, ledger: Ledger) -> dict[str, object]:
    envelope = handled.envelope
    found: dict[str, object] = {
        "outcome": handled.outcome,
        "event_id": envelope.event_id,
        "type": envelope.event.type,
        "stream_id": envelope.stream_id,
        "version": envelope.version,
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
        handled = ledger.apply(envelope)
        await message.ack()
    emit(line(handled, ledger))


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
            queue = await declare(channel, user)
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
