"""Open the broker connection and channels; their closing belongs to the composition root's stack.

Closing is bounded: a service stopping while the broker is unreachable must still stop.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractRobustConnection
from aio_pika.exceptions import AMQPError

from cqrs_shared.errors import StartupError
from cqrs_shared.logs import redact

log = logging.getLogger(__name__)

RECONNECT_SECONDS = 1.0
CLOSE_TIMEOUT_SECONDS = 5.0


async def open_connection(stack: AsyncExitStack, url: str) -> AbstractRobustConnection:
    """A connection that comes back by itself, and restores its channels, queues and consumers."""
    try:
        connection = await aio_pika.connect_robust(url, reconnect_interval=RECONNECT_SECONDS)
    except (AMQPError, OSError) as error:
        raise StartupError(f"cannot connect to the broker at {redact(url)}: {error!r}") from None
    stack.push_async_callback(close_bounded, "connection", connection.close)
    return connection


async def open_channel(
    stack: AsyncExitStack, connection: AbstractConnection, *, confirms: bool = True, prefetch: int = 0
) -> AbstractChannel:
    channel = await connection.channel(publisher_confirms=confirms)
    stack.push_async_callback(close_bounded, "channel", channel.close)
    if prefetch:
        await channel.set_qos(prefetch_count=prefetch)
    return channel


async def close_bounded(what: str, close: Callable[[], Awaitable[object]]) -> None:
    """Close, but give up (with a warning) after a few seconds."""
    try:
        await asyncio.wait_for(close(), CLOSE_TIMEOUT_SECONDS)
    except TimeoutError:
        log.warning("the broker %s did not close within %.0f s; leaving it", what, CLOSE_TIMEOUT_SECONDS)
