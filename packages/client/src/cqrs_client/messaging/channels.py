"""Open the broker connection and channels; their closing belongs to the composition root's stack.

Closing is bounded: a service stopping while the broker is unreachable must still stop.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from typing import Any

import aio_pika
from aio_pika import RobustConnection
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractRobustConnection
from aio_pika.exceptions import AMQPError
from yarl import URL

from cqrs_client.errors import StartupError
from cqrs_client.messaging import tolerant_frames
from cqrs_client.redaction import redact

log = logging.getLogger(__name__)

RECONNECT_SECONDS = 1.0
CLOSE_TIMEOUT_SECONDS = 5.0


def broker_urls(text: str) -> list[str]:
    """The broker URLs of a setting: one, or several separated by commas (one per cluster node)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def login(url: str) -> str:
    """The user a connection to ``url`` logs in as (aio-pika's default: guest)."""
    return URL(url).user or "guest"


async def connect_first(urls: Sequence[str], timeout: float) -> AbstractConnection:
    """A plain connection (no reconnection: for a short-lived tool) to the first of ``urls`` that
    answers; the last failure when none does."""
    tolerant_frames.install()
    last: BaseException = ValueError("no broker URL given")
    for url in urls:
        try:
            return await aio_pika.connect(url, timeout=timeout)
        except (AMQPError, OSError, TimeoutError) as error:
            last = error
    raise last


class FailoverConnection(RobustConnection):
    """A robust connection to one of several nodes of a cluster: each attempt, the first one and
    every reconnection, goes to the next address in turn, so a dead node is left for a live one.

    aio-pika reads ``url`` once per attempt (Connection.connect) and nowhere else but in ``str()``,
    which this class answers without reading it; its test runs against a real three-node cluster.
    """

    def __init__(self, urls: Sequence[str], **kwargs: Any) -> None:
        self._urls = tuple(URL(url) for url in urls)
        self._attempts = 0
        super().__init__(self._urls[0], **kwargs)

    @property
    def url(self) -> URL:
        url = self._urls[self._attempts % len(self._urls)]
        self._attempts += 1
        return url

    @url.setter
    def url(self, value: URL) -> None:
        """Set by aio-pika's constructor to the first address, which this class has already."""

    @property
    def current(self) -> URL:
        """The address of the last attempt (the first before any)."""
        return self._urls[(self._attempts - 1) % len(self._urls)] if self._attempts else self._urls[0]

    def __str__(self) -> str:
        return redact(str(self.current))


async def connect_failover(urls: Sequence[str], timeout: float | None = None) -> AbstractRobustConnection:
    """Connect to the first of ``urls`` that answers; the connection then restores itself (its
    channels, queues and consumers) on whichever node answers next."""
    tolerant_frames.install()
    last: BaseException = ValueError("no broker URL given")
    for start in range(len(urls)):
        connection = FailoverConnection([*urls[start:], *urls[:start]], reconnect_interval=RECONNECT_SECONDS)
        try:
            await connection.connect(timeout=timeout)
        except (AMQPError, OSError, TimeoutError) as error:
            last = error
            continue
        return connection
    raise last


async def open_connection(stack: AsyncExitStack, urls: Sequence[str]) -> AbstractRobustConnection:
    """A connection that comes back by itself, and restores its channels, queues and consumers."""
    try:
        connection = await connect_failover(urls)
    except (AMQPError, OSError, TimeoutError) as error:
        where = ", ".join(redact(url) for url in urls)
        raise StartupError(f"cannot connect to the broker at {where}: {error!r}") from None
    stack.push_async_callback(close_bounded, "connection", connection.close)
    return connection


async def open_channel(
    stack: AsyncExitStack,
    connection: AbstractConnection,
    *,
    confirms: bool = True,
    prefetch: int = 0,
    returns: bool = False,
) -> AbstractChannel:
    """``returns``: a mandatory publish the broker returns unrouted raises PublishError (confirms
    needed), where it would otherwise be confirmed like one that was routed."""
    channel = await connection.channel(publisher_confirms=confirms, on_return_raises=returns)
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
