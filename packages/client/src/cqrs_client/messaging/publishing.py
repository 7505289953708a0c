"""Publish with one deadline over the whole publish: the frame written and, on confirm channels, confirmed.

await publish(exchange, message, routing_key, timeout=5)   # TimeoutError after 5 s, whatever hung

aio-pika's own ``timeout`` covers the confirm, but not aiormq's wait for the frame to be written,
which never ends when the connection breaks at that moment (seen with a TCP cut under load: the
outbox relay waited forever and published nothing more). So the deadline is ours alone: aio-pika's
would add a second timer (an ``asyncio.wait_for``) to every publish for nothing.
"""

import asyncio

from aio_pika.abc import AbstractExchange, AbstractMessage
from aio_pika.exceptions import AMQPError

PUBLISH_TIMEOUT_SECONDS = 5.0
# What a publish, ack or nack raises when the broker connection is lost or hangs: aiormq's errors,
# this module's deadline, and the RuntimeError aio-pika raises on a channel whose connection closed.
BROKER_FAILURES = (AMQPError, RuntimeError, TimeoutError)


async def publish(
    exchange: AbstractExchange,
    message: AbstractMessage,
    routing_key: str,
    *,
    mandatory: bool = False,
    timeout: float = PUBLISH_TIMEOUT_SECONDS,
) -> None:
    async with asyncio.timeout(timeout):
        await exchange.publish(message, routing_key, mandatory=mandatory)
