"""The event store on a real PostgreSQL: migrations, and the contract of tests/store_contract.py."""

import asyncio
import json
from uuid import uuid4

import asyncpg
import pytest

from command_service import migrate as migrations
from command_service.migrate import available, migrate
from command_service.store import PostgresEventStore, open_pool
from cqrs_contracts import CUSTOMER, CommandAccepted, CreateCustomer, Metadata
from tests.recent_contract import RecentStatesContract, TogetherContract
from tests.store_contract import EventStoreContract, send


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


async def test_rows_written_before_owners_and_senders_were_recorded_read_as_such(
    postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    everything = available()
    monkeypatch.setattr(migrations, "available", lambda: everything[:1])
    customer_id, command_id = uuid4(), uuid4()
    reply = CommandAccepted(command_id=command_id, stream_type=CUSTOMER, id=customer_id, version=1, token="t")
    async with open_pool(postgres_dsn) as pool:
        async with pool.acquire() as conn:
            await migrate(conn)  # as the service was at migration 001
            await conn.execute(
                "INSERT INTO streams (stream_id, stream_type, version, state, updated_at)"
                " SELECT $1, 'customer', 1, '{}', now()"
                " UNION ALL SELECT gen_random_uuid(), 'account', 1, $2::text::jsonb, now()"
                " FROM generate_series(1, 3)",
                customer_id,
                json.dumps({"customer_id": str(customer_id)}),
            )
            await conn.execute(
                "INSERT INTO command_results (command_id, command_type, reply)"
                " VALUES ($1, 'CreateCustomer', $2)",
                command_id,
                reply.model_dump(mode="json"),
            )
            monkeypatch.setattr(migrations, "available", lambda: everything)
            assert await migrate(conn) == [migration.name for migration in everything[1:]]
        store = PostgresEventStore(pool)
        assert (await store.load(uuid4(), [customer_id])).streams[customer_id].owned == 3
        metadata = Metadata(message_id=command_id, type="CreateCustomer")
        repeat = await send(
            store, CreateCustomer(customer_id=customer_id, name="Ada", locale="en"), metadata, "bob"
        )
        assert repeat == reply


async def test_analyze_keeps_no_statistics_of_documents_or_tracing_text(
    pool: asyncpg.Pool, event_store: PostgresEventStore
) -> None:
    """Migration 006: ANALYZE (autovacuum's, about once a minute under load) skips the columns no
    query filters on, and keeps those the queries use."""
    for name in ("Ada", "Grace", "Edsger"):
        command = CreateCustomer(customer_id=uuid4(), name=name, locale="en")
        await send(event_store, command, Metadata(message_id=uuid4(), type="CreateCustomer"), "bob")
    async with pool.acquire() as conn:
        await conn.execute("ANALYZE events, streams, command_results")
        rows = await conn.fetch(
            "SELECT tablename, attname FROM pg_stats WHERE schemaname = current_schema()"
            " AND tablename IN ('events', 'streams', 'command_results')"
        )
    kept = {(row["tablename"], row["attname"]) for row in rows}
    skipped = {("events", "data"), ("events", "correlation_id"), ("events", "causation_id")}
    skipped |= {("events", "traceparent"), ("streams", "state"), ("command_results", "reply")}
    assert not kept & skipped
    assert {("events", "stream_id"), ("events", "position"), ("streams", "stream_id")} <= kept


class TestPostgresEventStore(EventStoreContract):
    @pytest.fixture
    def store(self, event_store: PostgresEventStore) -> PostgresEventStore:
        return event_store


class TestRecentStatesOnPostgres(RecentStatesContract):
    @pytest.fixture
    def store(self, event_store: PostgresEventStore) -> PostgresEventStore:
        return event_store


class TestTogetherOnPostgres(TogetherContract):
    @pytest.fixture
    def store(self, event_store: PostgresEventStore) -> PostgresEventStore:
        return event_store
