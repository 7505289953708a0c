"""Fixtures of the integration tests: a migrated event store, a read store."""

from collections.abc import AsyncIterator

import asyncpg
import pytest

from command_service.migrate import migrate
from command_service.store import PostgresEventStore, open_pool
from query_service.read_model.store import ReadStore, open_database


@pytest.fixture
async def pool(postgres_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    async with open_pool(postgres_dsn) as pool:
        async with pool.acquire() as conn:
            await migrate(conn)
        yield pool


@pytest.fixture
def event_store(pool: asyncpg.Pool) -> PostgresEventStore:
    return PostgresEventStore(pool)


@pytest.fixture
async def read_store(mongodb_url: str, mongo_database: str) -> AsyncIterator[ReadStore]:
    async with open_database(mongodb_url, mongo_database) as db:
        store = ReadStore(db)
        await store.ensure_indexes()
        yield store
