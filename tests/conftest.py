"""Session-scoped servers (one URL each) and per-test resources with unique names."""

import os
from collections.abc import AsyncIterator, Iterator

import aio_pika
import pytest
from aio_pika.abc import AbstractRobustConnection

from tests.resources import Servers, fresh_mongo, fresh_postgres, fresh_vhost
from tests.servers import server_url

pytest_plugins = ["tests.pair"]

# A test's speed is its folder's (tests/<speed>/test_*.py), marked here and nowhere else.
SPEEDS = ("unit", "integration", "e2e", "faults", "containers", "cluster")


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = item.path.parent.name
        if folder in SPEEDS:
            item.add_marker(getattr(pytest.mark, folder))


@pytest.fixture(scope="session")
def rabbitmq_server() -> Iterator[str]:
    with server_url("CQRS_RABBITMQ_URL", "rabbitmq") as url:
        yield url


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


@pytest.fixture(scope="session")
def servers(rabbitmq_server: str, postgres_server: str, mongodb_url: str) -> Servers:
    return Servers(rabbitmq_server, postgres_server, mongodb_url)
