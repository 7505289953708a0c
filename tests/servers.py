"""Where the test servers come from: environment variables, else testcontainers, else a clear failure.

Where the three CQRS_* URLs are not set and a Docker engine answers, each server is a generic
testcontainer of the image docker-compose.yml pins (CQRS_TEST_*_IMAGE overrides it), ready once the
project's own client has talked to it. Nothing is ever skipped: a missing server fails the run.
"""

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
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
HOW_TO_START = (
    "run `make test` (it provisions local servers), or `bash infra/provision.sh` and set "
    "CQRS_RABBITMQ_URL, CQRS_POSTGRES_DSN and CQRS_MONGODB_URL, or start a Docker engine"
)
# What a probe of a server that is still starting raises (refused, reset, "starting up", timed out).
NOT_YET = (
    OSError,
    EOFError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    aiormq.exceptions.AMQPError,
    pymongo.errors.PyMongoError,
)


async def _amqp(url: str) -> None:
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


async def _postgres(url: str) -> None:
    connection = await asyncpg.connect(url, timeout=5)
    await connection.close()


async def _mongo(url: str) -> None:
    await asyncio.to_thread(_mongo_ping, url)


def _mongo_ping(url: str) -> None:
    # pymongo 4.20's AsyncMongoClient leaves a socket open per handshake the server hangs up on (a
    # ResourceWarning each, an error under pytest's filterwarnings); its MongoClient closes them.
    with MongoClient[dict[str, object]](url, serverSelectionTimeoutMS=5000) as client:
        client.admin.command("ping")


@dataclass(frozen=True)
class Kind:
    """One server as a container: its image, port, environment, URL and the probe that says it is up."""

    image_variable: str
    default_image: str  # the same as docker-compose.yml's
    port: int
    url: Callable[[str, int], str]
    probe: Callable[[str], Awaitable[None]]
    env: dict[str, str] = field(default_factory=dict)

    @property
    def image(self) -> str:
        return os.environ.get(self.image_variable) or self.default_image


KINDS = {
    "rabbitmq": Kind(
        "CQRS_TEST_RABBITMQ_IMAGE",
        "rabbitmq:4.1.4-management-alpine",
        5672,
        lambda host, port: f"amqp://guest:guest@{host}:{port}/",
        _amqp,
    ),
    "postgres": Kind(
        "CQRS_TEST_POSTGRES_IMAGE",
        "postgres:17.6-alpine",
        5432,
        lambda host, port: f"postgresql://cqrs_command:cqrs_command@{host}:{port}/cqrs",
        _postgres,
        {"POSTGRES_USER": "cqrs_command", "POSTGRES_PASSWORD": "cqrs_command", "POSTGRES_DB": "cqrs"},
    ),
    "mongodb": Kind(
        "CQRS_TEST_MONGODB_IMAGE",
        "mongo:8.0.13",
        27017,
        lambda host, port: f"mongodb://{host}:{port}/",
        _mongo,
    ),
}
# Broker URL -> its test container, so that rabbitmqctl runs inside it and not on this host.
_BROKERS: dict[str, DockerContainer] = {}


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "info"], capture_output=True, timeout=20, check=False)
    return probe.returncode == 0


@contextmanager
def server_url(variable: str, kind: str) -> Iterator[str]:
    """The URL of a server: ``$variable`` if set, else a testcontainer of ``kind``."""
    given = os.environ.get(variable)
    if given:
        yield given
        return
    if not docker_available():
        pytest.fail(f"{kind}: {variable} is not set and no Docker engine answers; {HOW_TO_START}")
    with _container(kind) as url:
        yield url


@contextmanager
def _container(name: str) -> Iterator[str]:
    """A started container of ``name`` that answers its probe; removed on leaving, whatever happens."""
    kind = KINDS[name]
    with DockerContainer(kind.image).with_exposed_ports(kind.port).with_envs(**kind.env) as container:
        url = _url(container, kind)
        _wait_ready(container, kind, url)
        if name == "rabbitmq":
            _BROKERS[url] = container
        try:
            yield url
        finally:
            _BROKERS.pop(url, None)


def _url(container: DockerContainer, kind: Kind) -> str:
    try:
        return kind.url(container.get_container_host_ip(), container.get_exposed_port(kind.port))
    except (TimeoutError, ConnectionError) as error:  # testcontainers: not running, or no port mapped
        _fail(container, kind, f"no port {kind.port} to reach ({type(error).__name__}: {error})")


def _wait_ready(container: DockerContainer, kind: Kind, url: str) -> None:
    deadline = time.monotonic() + READY_WITHIN
    with ThreadPoolExecutor(max_workers=1) as worker:
        while (failure := _answers(worker, kind, url)) is not None:
            if not _running(container) or time.monotonic() > deadline:
                _fail(container, kind, f"{url} did not answer (last attempt: {failure})")
            time.sleep(0.5)


def _running(container: DockerContainer) -> bool:
    wrapped = container.get_wrapped_container()
    wrapped.reload()
    status: str = wrapped.status
    return status == "running"


def _fail(container: DockerContainer, kind: Kind, why: str) -> NoReturn:
    wrapped = container.get_wrapped_container()
    wrapped.reload()
    logs = wrapped.logs(tail=40).decode(errors="replace")
    pytest.fail(
        f"{kind.image} not ready within {READY_WITHIN:.0f} s: {why}; container {wrapped.status}, "
        f"its last log lines:\n{logs}"
    )


def _answers(worker: ThreadPoolExecutor, kind: Kind, url: str) -> str | None:
    """None if the server answered ``kind``'s probe, else why not.

    The probe runs on a loop of its own in a worker thread: safe whatever loop this thread has.
    """

    async def bounded() -> None:
        await asyncio.wait_for(kind.probe(url), timeout=10)

    try:
        worker.submit(asyncio.run, bounded()).result()
    except NOT_YET as error:
        return f"{type(error).__name__}: {error}"
    return None


class RabbitmqctlFailed(Exception):
    """rabbitmqctl exited non-zero; the message holds its command line and output."""


@dataclass(frozen=True)
class Rabbitmqctl:
    """``rabbitmqctl -q ...`` against one broker: inside its test container, or this host's own."""

    container: DockerContainer | None

    def __call__(self, *args: str, check: bool = True) -> None:
        command = ["rabbitmqctl", "-q", *args]
        if self.container is None:
            done = subprocess.run(command, capture_output=True, timeout=60, check=False)
            status, output = done.returncode, done.stdout + done.stderr
        else:
            status, output = self.container.exec(command)
        if check and status != 0:
            raise RabbitmqctlFailed(f"{' '.join(command)} exited {status}: {output.decode(errors='replace')}")


def rabbitmqctl(url: str) -> Rabbitmqctl | None:
    """How to run rabbitmqctl on ``url``'s broker; None where this machine cannot.

    A test container runs it inside; a broker on this host's default port (infra/provision.sh's) is
    the one the host's rabbitmqctl talks to. Any other broker (remote, or a compose stack's on another
    port) is out of reach: rabbitmqctl would act on the wrong node.
    """
    if url in _BROKERS:
        return Rabbitmqctl(_BROKERS[url])
    parts = urlsplit(url)
    local = parts.hostname in {"127.0.0.1", "localhost"} and parts.port in {None, 5672}
    if local and shutil.which("rabbitmqctl") is not None:
        return Rabbitmqctl(None)
    return None
