"""How long RabbitMQ takes to confirm a persistent message to a durable queue: the floor of the
relay's commit -> published, and so of the pair's lag (docs/performance.md, "The lag's parts").

    uv run --group bench python -m bench.confirm_latency --rate 116 --seconds 20 [--queue-type quorum]

It publishes at a fixed rate, at most --streams messages unconfirmed at a time (the relay has one
per stream: it confirms a stream's event before the next), to a queue of its own that a consumer
empties, and prints the confirm's p50, p90 and p99. The queue is removed at the end. Needs
CQRS_RABBITMQ_URL (infra/local.env) of a user that may declare queues.
"""

import argparse
import asyncio
import os
import time
import uuid

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, FieldValue

from bench.timing import Timed

BODY = b"x" * 900  # about an event's envelope


async def measure(url: str, rate: float, seconds: float, queue_type: str, streams: int) -> Timed:
    confirms = Timed()
    async with await aio_pika.connect(url) as connection:
        channel = await connection.channel(publisher_confirms=True)
        arguments: dict[str, FieldValue] = {"x-queue-type": queue_type}
        name = f"bench.confirms.{uuid.uuid4()}"
        queue = await channel.declare_queue(name, durable=True, arguments=arguments)
        try:
            consumer = await connection.channel()
            await (await consumer.get_queue(queue.name)).consume(_ack)
            await _publish_at(channel, queue.name, rate, seconds, streams, confirms)
        finally:
            await queue.delete(if_unused=False, if_empty=False)
    return confirms


async def _publish_at(
    channel: aio_pika.abc.AbstractChannel, name: str, rate: float, seconds: float, streams: int, out: Timed
) -> None:
    """``rate`` messages a second for ``seconds``, each timed from publish to confirm; at most
    ``streams`` unconfirmed at a time (the relay confirms each of a stream's events before the next)."""
    slots = asyncio.Semaphore(streams)
    started = time.monotonic()
    tasks = []
    for n in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
        await slots.acquire()
        tasks.append(asyncio.create_task(_one(channel, name, slots, out)))
    await asyncio.gather(*tasks)


async def _one(
    channel: aio_pika.abc.AbstractChannel, name: str, slots: asyncio.Semaphore, out: Timed
) -> None:
    try:
        sent = time.perf_counter()
        message = aio_pika.Message(BODY, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
        await channel.default_exchange.publish(message, name)
        out.samples.append(1000 * (time.perf_counter() - sent))
    finally:
        slots.release()


async def _ack(message: AbstractIncomingMessage) -> None:
    await message.ack()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=116, help="messages a second")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--streams", type=int, default=64, help="unconfirmed messages at most")
    parser.add_argument("--queue-type", choices=("classic", "quorum"), default="classic")
    args = parser.parse_args()
    url = os.environ["CQRS_RABBITMQ_URL"]
    timed = asyncio.run(measure(url, args.rate, args.seconds, args.queue_type, args.streams))
    p50, p90, p99 = (timed.percentile(q) for q in (50, 90, 99))
    print(
        f"{args.queue_type} queue, {args.rate:g}/s for {args.seconds:g} s: publish -> confirm "
        f"p50 {p50:.1f} ms, p90 {p90:.1f} ms, p99 {p99:.1f} ms (n {len(timed.samples)})"
    )


if __name__ == "__main__":
    main()
