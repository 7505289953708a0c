"""When a test container is up: the project's own client has talked to it (no image-specific log line).

wait_ready(container, "postgres:17.6-alpine", url, postgres_answers)   # or pytest.fail with its logs
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import NoReturn
from urllib.parse import urlsplit

import aio_pika
import aiormq
import asyncpg
import pymongo.errors
import pytest
from pymongo import MongoClient
from testcontainers.core.container import DockerContainer

READY_WITHIN = 120.0  # seconds; RabbitMQ alone takes 10-20 s on a busy two-core machine
Probe = Callable[[str], Awaitable[None]]
# What a probe of a server that is still starting raises (refused, reset, "starting up", timed out).
NOT_YET = (
    OSError,
    EOFError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    aiormq.exceptions.AMQPError,
    pymongo.errors.PyMongoError,
)


async def amqp_answers(url: str) -> None:
    await _amqp_header_answered(url)
    connection = await aio_pika.connect(url, timeout=5)
    await connection.close()


async def _amqp_header_answered(url: str) -> None:
    """The broker answers AMQP's protocol header with a frame (EOFError where it hangs up).

    aiormq 6.9 leaves its socket open when the server hangs up before its first frame, as Docker's
    port proxy does while nothing listens behind it yet; each such attempt would leak a
    ResourceWarning, an error under pytest's filterwarnings. So hear that first frame here first.
    """
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 5672)
    try:
        writer.write(b"AMQP\x00\x00\x09\x01")
        await reader.readexactly(1)
    finally:
        writer.close()
        await writer.wait_closed()


async def postgres_answers(url: str) -> None:
    connection = await asyncpg.connect(url, timeout=5)
    await connection.close()


async def mongodb_answers(url: str) -> None:
    await asyncio.to_thread(_mongo_ping, url)


def _mongo_ping(url: str) -> None:
    # pymongo 4.20's AsyncMongoClient leaves a socket open per handshake the server hangs up on (a
    # ResourceWarning each, an error under pytest's filterwarnings); its MongoClient closes them.
    with MongoClient[dict[str, object]](url, serverSelectionTimeoutMS=5000) as client:
        client.admin.command("ping")


def wait_ready(container: DockerContainer, image: str, url: str, probe: Probe) -> None:
    """Return once ``probe`` succeeds on ``url``; fail the run if the container stops or time runs out."""
    deadline = time.monotonic() + READY_WITHIN
    with ThreadPoolExecutor(max_workers=1) as worker:
        while (failure := _answers(worker, probe, url)) is not None:
            if not _running(container) or time.monotonic() > deadline:
                fail_with_logs(container, image, f"{url} did not answer (last attempt: {failure})")
            time.sleep(0.5)


def _running(container: DockerContainer) -> bool:
    wrapped = container.get_wrapped_container()
    wrapped.reload()
    status: str = wrapped.status
    return status == "running"


def fail_with_logs(container: DockerContainer, image: str, why: str) -> NoReturn:
    """Fail the run saying ``why``, with the container's state and last log lines."""
    wrapped = container.get_wrapped_container()
    wrapped.reload()
    logs = wrapped.logs(tail=40).decode(errors="replace")
    pytest.fail(
        f"{image} not ready within {READY_WITHIN:.0f} s: {why}; container {wrapped.status}, "
        f"its last log lines:\n{logs}"
    )


def _answers(worker: ThreadPoolExecutor, probe: Probe, url: str) -> str | None:
    """None if the server answered ``probe``, else why not.

    The probe runs on a loop of its own in a worker thread: safe whatever loop this thread has.
    """

    async def bounded() -> None:
        await asyncio.wait_for(probe(url), timeout=10)

    try:
        worker.submit(asyncio.run, bounded()).result()
    except NOT_YET as error:
        return f"{type(error).__name__}: {error}"
    return None
