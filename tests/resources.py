"""Servers' URLs and per-test resources with unique names: a vhost, a PostgreSQL database, a
MongoDB database, each removed afterwards. The fixtures in conftest.py are built on these."""

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from pymongo import AsyncMongoClient

from tests.servers import rabbitmqctl


def unique(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(4)}"


def with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


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


@dataclass(frozen=True)
class Servers:
    """The servers a pair of its own is made on (tests/own.py)."""

    rabbitmq: str
    postgres: str
    mongodb: str


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
