"""The event store on a real PostgreSQL: migrations, and the contract of tests/store_contract.py."""

import asyncio

import asyncpg
import pytest

from command_service.migrate import available, migrate
from command_service.store import PostgresEventStore
from tests.store_contract import EventStoreContract

pytestmark = pytest.mark.integration


async def test_two_replicas_migrating_at_once_apply_each_migration_once(postgres_dsn: str) -> None:
    conns = [await asyncpg.connect(postgres_dsn) for _ in range(2)]
    try:
        results = await asyncio.gather(*(migrate(conn) for conn in conns))
        applied = await conns[0].fetchval("SELECT count(*) FROM schema_migrations")
    finally:
        for conn in conns:
            await conn.close()
    assert sorted(len(names) for names in results) == [0, len(available())]
    assert applied == len(available())


async def test_migrating_again_applies_nothing(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        assert await migrate(conn) == []


class TestPostgresEventStore(EventStoreContract):
    @pytest.fixture
    def store(self, event_store: PostgresEventStore) -> PostgresEventStore:
        return event_store
