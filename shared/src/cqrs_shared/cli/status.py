"""The pair at a glance: each service's readiness (its HTTP ``/readyz``) and the depth of every queue.

status = await collect(read(StatusSettings), timeout=10)   # never raises for an unreachable service or broker
"""

import asyncio
from dataclasses import dataclass

import aiohttp
from aio_pika.abc import AbstractConnection
from aio_pika.exceptions import ChannelNotFoundEntity
from pydantic import AnyHttpUrl, Field, ValidationError

from cqrs_client.errors import BrokerUnavailable
from cqrs_client.messaging.topology import dead_letter_queue
from cqrs_shared.messaging.dlq import QUEUES, broker, present
from cqrs_shared.observability.readiness import Readiness
from cqrs_shared.runtime.settings import BrokerSettings


class StatusSettings(BrokerSettings):
    """Where the services' HTTP endpoints are, besides the broker."""

    command_http_url: AnyHttpUrl = Field(
        default=AnyHttpUrl("http://127.0.0.1:8081"), description="the command service's HTTP endpoint"
    )
    query_http_url: AnyHttpUrl = Field(
        default=AnyHttpUrl("http://127.0.0.1:8082"), description="the query service's HTTP endpoint"
    )


@dataclass(frozen=True)
class Service:
    """A service as its endpoint answered; ``problem`` says why there is no usable answer."""

    name: str
    url: str
    readiness: Readiness | None = None
    problem: str | None = None
    reachable: bool = True

    @property
    def ready(self) -> bool:
        return self.readiness is not None and self.readiness.ready


@dataclass(frozen=True)
class QueueDepth:
    name: str
    present: bool
    messages: int = 0
    consumers: int = 0
    dead_letters: bool = False


@dataclass(frozen=True)
class Status:
    services: list[Service]
    queues: list[QueueDepth]
    broker_problem: str | None = None

    @property
    def all_ready(self) -> bool:
        return self.broker_problem is None and all(service.ready for service in self.services)


async def collect(settings: StatusSettings, timeout: float) -> Status:
    """Ask both services and the broker at once; ``timeout`` bounds each wait (the connection, an
    HTTP answer, a passive declare)."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http:
        command, query, (queues, problem) = await asyncio.gather(
            readiness(http, "command", str(settings.command_http_url)),
            readiness(http, "query", str(settings.query_http_url)),
            _depths(settings.rabbitmq_url, timeout),
        )
    return Status([command, query], queues, problem)


async def readiness(http: aiohttp.ClientSession, name: str, url: str) -> Service:
    target = url.rstrip("/") + "/readyz"
    try:
        async with http.get(target) as response:
            body = await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as error:
        problem = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        return Service(name, url, problem=problem, reachable=False)
    if status not in (200, 503):
        return Service(name, url, problem=f"unexpected answer from {target}: HTTP {status}")
    try:
        return Service(name, url, readiness=Readiness.model_validate_json(body))
    except ValidationError as error:
        return Service(name, url, problem=f"unexpected body from {target} (HTTP {status}): {error}")


async def queue_depths(connection: AbstractConnection, timeout: float) -> list[QueueDepth]:
    """Each queue and its dead-letter queue, by passive declares (which create nothing)."""
    depths = []
    for queue in await present(connection, QUEUES):  # the partitions that exist
        depths.append(await _depth(connection, queue, timeout, dead_letters=False))
        depths.append(await _depth(connection, dead_letter_queue(queue), timeout, dead_letters=True))
    return depths


async def _depth(
    connection: AbstractConnection, name: str, timeout: float, *, dead_letters: bool
) -> QueueDepth:
    # A passive declare of a missing queue closes its channel, hence one channel per queue.
    async with connection.channel(publisher_confirms=False) as channel:
        try:
            queue = await channel.declare_queue(name, passive=True, timeout=timeout)
        except ChannelNotFoundEntity:
            return QueueDepth(name, present=False, dead_letters=dead_letters)
        result = queue.declaration_result
        return QueueDepth(name, True, result.message_count or 0, result.consumer_count or 0, dead_letters)


async def _depths(url: str, timeout: float) -> tuple[list[QueueDepth], str | None]:
    try:
        async with broker(url, timeout) as connection:
            return await queue_depths(connection, timeout), None
    except (BrokerUnavailable, TimeoutError) as error:
        return [], str(error) or type(error).__name__
