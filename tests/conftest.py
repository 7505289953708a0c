"""Session-scoped servers (one URL each) and per-test resources with unique names."""

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import asyncpg
import pytest
from aio_pika.abc import AbstractRobustConnection
from pymongo import AsyncMongoClient

from tests.servers import rabbitmqctl, server_url

pytest_plugins = ["tests.pair"]

# A test's speed is its folder's (tests/<speed>/test_*.py), marked here and nowhere else.
SPEEDS = ("unit", "integration", "e2e", "faults", "containers", "cluster")


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = item.path.parent.name
        if folder in SPEEDS:
            item.add_marker(getattr(pytest.mark, folder))


def unique(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(4)}"


def with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


@pytest.fixture(scope="session")
def rabbitmq_server() -> Iterator[str]:
    with server_url("CQRS_RABBITMQ_URL", "rabbitmq") as url:
        yield url


def no_vhost(server: str) -> str:
    """Why a test that needs a vhost of its own cannot have one on ``server``."""
    where = urlsplit(server).netloc.rpartition("@")[2]
    return (
        f"this test makes a RabbitMQ vhost of its own with rabbitmqctl, which reaches a test container's "
        f"broker or this host's on 127.0.0.1:5672, not the one at {where}: unset CQRS_RABBITMQ_URL "
        "(testcontainers) or use the local servers (infra/provision.sh)"
    )


@contextmanager
def fresh_vhost(server: str) -> Iterator[str | None]:
    """``server``'s URL on a new vhost, deleted afterwards; None where rabbitmqctl cannot reach it."""
    ctl = rabbitmqctl(server)
    if ctl is None:
        yield None
        return
    vhost = unique("cqrs-test")
    ctl("add_vhost", vhost)
    ctl("set_permissions", "-p", vhost, urlsplit(server).username or "guest", ".*", ".*", ".*")
    try:
        yield with_path(server, f"/{vhost}")
    finally:
        ctl("delete_vhost", vhost, check=False)


@pytest.fixture(scope="session")
def rabbitmq_url(rabbitmq_server: str) -> Iterator[str]:
    """A vhost of its own for this test session where rabbitmqctl can make one."""
    with fresh_vhost(rabbitmq_server) as url:
        yield url or rabbitmq_server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """Where the tests make their databases, as whom: CQRS_TEST_POSTGRES_DSN (infra/local.env: a role
    with CREATEDB, which the service role does not have), else CQRS_POSTGRES_DSN or a testcontainer."""
    admin = os.environ.get("CQRS_TEST_POSTGRES_DSN")
    if admin:
        yield admin
        return
    with server_url("CQRS_POSTGRES_DSN", "postgres") as url:
        yield url


@pytest.fixture(scope="session")
def mongodb_url() -> Iterator[str]:
    with server_url("CQRS_MONGODB_URL", "mongodb") as url:
        yield url


@asynccontextmanager
async def fresh_postgres(server: str, prefix: str) -> AsyncIterator[str]:
    """A new, empty database on ``server`` (its role needs CREATEDB), dropped afterwards; only its owner
    (and superusers) may connect, as with the service's own database."""
    name = unique(prefix)
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.execute(f'REVOKE CONNECT, TEMPORARY ON DATABASE "{name}" FROM PUBLIC')
        yield with_path(server, f"/{name}")
        await _drop(admin, name)
    finally:
        await admin.close()


async def _drop(admin: asyncpg.Connection, name: str) -> None:
    """DROP DATABASE, waiting out an autovacuum worker (WITH (FORCE) may not end a superuser's)."""
    for _ in range(40):
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            return
        except asyncpg.ObjectInUseError:
            await asyncio.sleep(0.25)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


@asynccontextmanager
async def fresh_mongo(url: str, prefix: str) -> AsyncIterator[str]:
    """A unique database name on ``url``, dropped afterwards."""
    name = unique(prefix)
    yield name
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(url)
    async with client:
        await client.drop_database(name)


@pytest.fixture
async def postgres_dsn(postgres_server: str) -> AsyncIterator[str]:
    async with fresh_postgres(postgres_server, "cqrs_test") as dsn:
        yield dsn


@pytest.fixture
async def mongo_database(mongodb_url: str) -> AsyncIterator[str]:
    async with fresh_mongo(mongodb_url, "cqrs_test") as name:
        yield name


@pytest.fixture
async def amqp(rabbitmq_url: str) -> AsyncIterator[AbstractRobustConnection]:
    connection = await aio_pika.connect_robust(rabbitmq_url)
    async with connection:
        yield connection


@dataclass(frozen=True)
class Servers:
    """The servers a pair of its own is made on (tests/faults/isolated.py, tests/own.py)."""

    rabbitmq: str
    postgres: str
    mongodb: str


@pytest.fixture(scope="session")
def servers(rabbitmq_server: str, postgres_server: str, mongodb_url: str) -> Servers:
    return Servers(rabbitmq_server, postgres_server, mongodb_url)


@asynccontextmanager
async def fresh_resources(servers: Servers) -> AsyncIterator[tuple[str, str, str]]:
    """A vhost (its URL), a database (its DSN) and a read database (its name) of their own."""
    with fresh_vhost(servers.rabbitmq) as vhost:
        if vhost is None:
            pytest.fail(no_vhost(servers.rabbitmq))
        async with (
            fresh_postgres(servers.postgres, "cqrs_own") as dsn,
            fresh_mongo(servers.mongodb, "cqrs_own") as read_db,
        ):
            yield vhost, dsn, read_db
