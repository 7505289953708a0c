"""The command use case in milliseconds: the event store contract on the in-memory store, and the
handler's own rules (retries, the one read per attempt, the pure decision).
"""

from collections.abc import Sequence
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from command_service import handler
from command_service.errors import ConcurrencyConflict
from command_service.memory import InMemoryEventStore
from command_service.ports import Change, Loaded
from command_service.routes import route_of
from cqrs_shared.contracts import (
    CommandReply,
    CreateCustomer,
    Deposit,
    ErrorCode,
    Metadata,
    OpenAccount,
)
from tests.builders import accepted, rejected
from tests.store_contract import EventStoreContract, send


class TestInMemoryEventStore(EventStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryEventStore:
        return InMemoryEventStore()


class Conflicting(InMemoryEventStore):
    """Another writer moves the stream before each of the first ``times`` commits."""

    def __init__(self, times: int) -> None:
        super().__init__()
        self.times = times
        self.loads: list[list[UUID]] = []
        self.commits = 0

    async def load(self, command_id: UUID, stream_ids: Sequence[UUID]) -> Loaded:
        self.loads.append(list(stream_ids))
        return await super().load(command_id, stream_ids)

    async def commit(self, change: Change) -> CommandReply:
        self.commits += 1
        if change.stream is not None and self.commits <= self.times:
            raise ConcurrencyConflict(str(change.stream.stream_id))
        return await super().commit(change)


async def test_a_conflict_is_retried_on_a_fresh_load() -> None:
    store = Conflicting(times=2)
    reply = accepted(await send(store, CreateCustomer(name="Ada", locale="en")))
    assert reply.version == 1
    assert (len(store.loads), store.commits) == (3, 3)


async def test_a_stream_that_keeps_changing_is_rejected_after_the_last_attempt() -> None:
    store = Conflicting(times=1_000)
    metadata = Metadata(type="CreateCustomer")
    reply = rejected(
        await send(store, CreateCustomer(name="Ada", locale="en"), metadata), ErrorCode.CONCURRENCY_CONFLICT
    )
    assert "gave up" in reply.error.message
    assert store.commits == handler.MAX_ATTEMPTS + 1
    assert (await store.load(metadata.message_id, [])).reply == reply


async def test_one_read_per_attempt_fetches_the_stream_and_what_it_requires() -> None:
    store = Conflicting(times=0)
    customer = accepted(await send(store, CreateCustomer(name="Ada", locale="en")))
    account_id = uuid4()
    accepted(await send(store, OpenAccount(account_id=account_id, customer_id=customer.id)))
    assert store.loads[-1] == [account_id, customer.id]


def test_deciding_a_create_gives_its_events_and_the_new_state_without_io() -> None:
    command = CreateCustomer(name="Ada", locale="en")
    metadata = Metadata(type=command.type)
    route = route_of(command)
    target = route.target(command, metadata.message_id)
    change = handler.decide(route, command, metadata, target, Loaded(None, {}))
    assert accepted(change.reply).token == f"customer:{target}@1"
    assert change.stream is not None
    assert [event.type for event in change.stream.events] == ["CustomerCreated"]
    assert (change.stream.loaded_version, change.stream.state["name"]) == (0, "Ada")


def test_deciding_a_deposit_on_no_account_is_a_rejection_with_nothing_to_write() -> None:
    command = Deposit(account_id=uuid4(), amount=Decimal(5))
    metadata = Metadata(type=command.type)
    route = route_of(command)
    change = handler.decide(route, command, metadata, command.account_id, Loaded(None, {}))
    rejected(change.reply, ErrorCode.NOT_FOUND)
    assert change.stream is None
