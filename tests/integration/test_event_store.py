"""The event store against a real PostgreSQL: migrations, one transaction per command, idempotency."""

import asyncio
from uuid import uuid4

import asyncpg
import pytest

from command_service import handler
from command_service.migrate import available, migrate
from command_service.store import EventStore
from cqrs_shared.contracts import (
    CommandAccepted,
    CommandRejected,
    CreateCustomer,
    EditCustomerDetails,
    ErrorCode,
    MakeCustomerPreferred,
    Metadata,
)

pytestmark = pytest.mark.integration


def meta(type_: str) -> Metadata:
    return Metadata(type=type_)


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


async def test_accepted_command_writes_events_state_and_result_together(
    event_store: EventStore, pool: asyncpg.Pool
) -> None:
    reply = await handler.handle(
        CreateCustomer(name="Ada", locale="en-gb"), meta("CreateCustomer"), event_store
    )
    assert isinstance(reply, CommandAccepted)
    assert reply.version == 1
    rows = await pool.fetch("SELECT type, version, data FROM events WHERE stream_id = $1", reply.id)
    assert [(row["type"], row["version"]) for row in rows] == [("CustomerCreated", 1)]
    assert rows[0]["data"]["locale"] == "en-GB"
    state = await event_store.load(reply.id)
    assert state is not None
    assert (state.version, state.state["name"]) == (1, "Ada")
    assert await event_store.stored_reply(reply.command_id) == reply.model_dump(mode="json")


async def test_redelivered_command_returns_the_stored_reply_and_changes_nothing(
    event_store: EventStore, pool: asyncpg.Pool
) -> None:
    metadata = meta("CreateCustomer")
    command = CreateCustomer(name="Ada", locale="en")
    first = await handler.handle(command, metadata, event_store)
    again = await handler.handle(command, metadata, event_store)
    assert again == first
    assert await pool.fetchval("SELECT count(*) FROM events") == 1


async def test_concurrent_duplicates_of_one_command_apply_once(
    event_store: EventStore, pool: asyncpg.Pool
) -> None:
    metadata = meta("CreateCustomer")
    command = CreateCustomer(name="Ada", locale="en")
    replies = await asyncio.gather(*(handler.handle(command, metadata, event_store) for _ in range(8)))
    assert len({reply.model_dump_json() for reply in replies}) == 1
    assert await pool.fetchval("SELECT count(*) FROM events") == 1


async def test_create_without_id_derives_the_same_id_from_the_same_command_id(
    event_store: EventStore,
) -> None:
    metadata = meta("CreateCustomer")
    first = await handler.handle(CreateCustomer(name="Ada", locale="en"), metadata, event_store)
    second = await handler.handle(CreateCustomer(name="Ada", locale="en"), metadata, event_store)
    assert isinstance(first, CommandAccepted)
    assert isinstance(second, CommandAccepted)
    assert first.id == second.id


async def test_creating_an_existing_customer_is_rejected_and_recorded(event_store: EventStore) -> None:
    customer_id = uuid4()
    await handler.handle(
        CreateCustomer(customer_id=customer_id, name="A", locale="en"), meta("C"), event_store
    )
    metadata = meta("CreateCustomer")
    reply = await handler.handle(
        CreateCustomer(customer_id=customer_id, name="B", locale="en"), metadata, event_store
    )
    assert isinstance(reply, CommandRejected)
    assert reply.error.code == ErrorCode.ALREADY_EXISTS
    assert await event_store.stored_reply(metadata.message_id) == reply.model_dump(mode="json")


async def test_concurrent_writers_without_expected_version_all_win_by_retrying(
    event_store: EventStore, pool: asyncpg.Pool
) -> None:
    created = await handler.handle(CreateCustomer(name="Ada", locale="en"), meta("C"), event_store)
    names = [f"Ada {n}" for n in range(6)]
    replies = await asyncio.gather(
        *(
            handler.handle(EditCustomerDetails(customer_id=created.id, name=name), meta("E"), event_store)  # type: ignore[union-attr]
            for name in names
        )
    )
    assert all(isinstance(reply, CommandAccepted) for reply in replies)
    versions = await pool.fetch("SELECT version FROM events ORDER BY version")
    assert [row["version"] for row in versions] == list(range(1, 8))


async def test_two_writers_with_the_same_expected_version_never_both_win(event_store: EventStore) -> None:
    created = await handler.handle(CreateCustomer(name="Ada", locale="en"), meta("C"), event_store)
    assert isinstance(created, CommandAccepted)
    commands = [
        EditCustomerDetails(customer_id=created.id, name="Ada B", expected_version=1),
        EditCustomerDetails(customer_id=created.id, name="Ada C", expected_version=1),
    ]
    replies = await asyncio.gather(*(handler.handle(c, meta("E"), event_store) for c in commands))
    statuses = sorted(reply.status for reply in replies)
    assert statuses == ["accepted", "rejected"]
    rejected = next(reply for reply in replies if isinstance(reply, CommandRejected))
    assert rejected.error.code == ErrorCode.CONCURRENCY_CONFLICT


async def test_stale_expected_version_is_rejected(event_store: EventStore) -> None:
    created = await handler.handle(CreateCustomer(name="Ada", locale="en"), meta("C"), event_store)
    assert isinstance(created, CommandAccepted)
    reply = await handler.handle(
        MakeCustomerPreferred(customer_id=created.id, expected_version=0), meta("M"), event_store
    )
    assert isinstance(reply, CommandRejected)
    assert reply.error.code == ErrorCode.CONCURRENCY_CONFLICT


async def test_a_command_that_changes_nothing_is_accepted_at_the_current_version(
    event_store: EventStore, pool: asyncpg.Pool
) -> None:
    created = await handler.handle(CreateCustomer(name="Ada", locale="en"), meta("C"), event_store)
    assert isinstance(created, CommandAccepted)
    first = await handler.handle(MakeCustomerPreferred(customer_id=created.id), meta("M"), event_store)
    second = await handler.handle(MakeCustomerPreferred(customer_id=created.id), meta("M"), event_store)
    assert isinstance(first, CommandAccepted)
    assert isinstance(second, CommandAccepted)
    assert (first.version, second.version) == (2, 2)
    assert await pool.fetchval("SELECT count(*) FROM events") == 2
