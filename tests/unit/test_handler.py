"""The command use case in milliseconds: the event store contract on the in-memory store, and the
handler's own rules (retries, the one read per attempt, the pure decision).
"""

from collections.abc import Sequence
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from command_service import handler
from command_service.domain.account import MAX_ACCOUNTS_PER_CUSTOMER
from command_service.entrypoint import on_command
from command_service.errors import CommandIdTaken, ConcurrencyConflict
from command_service.grants import Grants
from command_service.memory import InMemoryEventStore
from command_service.ports import Change, Loaded, Owner, Recorded, StreamState
from command_service.routes import route_of
from command_service.stream_commands import StreamCommands
from cqrs_client.messaging.envelope import Delivery
from cqrs_contracts import (
    ACCOUNT,
    CUSTOMER,
    CommandAccepted,
    CreateCustomer,
    Deposit,
    ErrorCode,
    Metadata,
    OpenAccount,
    TransferMoney,
    Withdraw,
)
from cqrs_shared.runtime.keyed_lock import KeyedLock
from tests.builders import accepted, rejected
from tests.store_contract import EventStoreContract, recorded_reply, send


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

    async def commit(self, change: Change) -> Recorded:
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
    assert await recorded_reply(store, metadata.message_id) == reply


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
    change = handler.decide(route, command, metadata, target, Loaded(None, {}), sender=None)
    assert accepted(change.reply).token == f"customer:{target}@1"
    assert change.stream is not None
    assert [event.type for event in change.stream.events] == ["CustomerCreated"]
    assert (change.stream.loaded_version, change.stream.state["name"]) == (0, "Ada")


def test_deciding_a_deposit_on_no_account_is_a_rejection_with_nothing_to_write() -> None:
    command = Deposit(account_id=uuid4(), amount=Decimal(5))
    metadata = Metadata(type=command.type)
    route = route_of(command)
    change = handler.decide(route, command, metadata, command.account_id, Loaded(None, {}), sender=None)
    rejected(change.reply, ErrorCode.NOT_FOUND)
    assert change.stream is None


def opening(customer_id: UUID, owned: int, account_id: UUID | None = None) -> Change:
    """OpenAccount decided on a customer owning ``owned`` accounts (and on the account, if given)."""
    command = OpenAccount(account_id=account_id or uuid4(), customer_id=customer_id)
    metadata = Metadata(type=command.type)
    streams = {customer_id: StreamState(CUSTOMER, 1, {"id": str(customer_id)}, owned)}
    if account_id is not None:
        opened = {
            "id": str(account_id),
            "customer_id": str(customer_id),
            "currency": "EUR",
            "balance": "0.00",
        }
        streams[account_id] = StreamState(ACCOUNT, 1, opened)
    target = command.account_id
    assert target is not None
    return handler.decide(route_of(command), command, metadata, target, Loaded(None, streams), sender=None)


def test_deciding_an_opening_names_the_customer_owner_at_the_count_loaded() -> None:
    customer_id = uuid4()
    change = opening(customer_id, owned=3)
    accepted(change.reply)
    assert change.stream is not None
    assert change.stream.owner == Owner(customer_id, 3)


def test_deciding_an_opening_for_a_customer_with_the_most_accounts_is_a_rejection() -> None:
    change = opening(uuid4(), owned=MAX_ACCOUNTS_PER_CUSTOMER)
    reply = rejected(change.reply, ErrorCode.VALIDATION_ERROR)
    assert f"the most one customer may have ({MAX_ACCOUNTS_PER_CUSTOMER})" in reply.error.message
    assert change.stream is None


def test_reopening_an_existing_account_of_a_full_customer_is_already_exists() -> None:
    change = opening(uuid4(), owned=MAX_ACCOUNTS_PER_CUSTOMER, account_id=uuid4())
    rejected(change.reply, ErrorCode.ALREADY_EXISTS)


ACCEPTED = CommandAccepted(command_id=uuid4(), stream_type=CUSTOMER, id=uuid4(), version=1, token="t")
RECORDED = Recorded("CreateCustomer", "alice", ACCEPTED)
CREATE = CreateCustomer(name="Ada", locale="en")


def test_a_command_id_naming_another_command_type_is_taken() -> None:
    withdraw = Withdraw(account_id=uuid4(), amount=Decimal(1))
    with pytest.raises(CommandIdTaken, match=r"another command \(CreateCustomer, not Withdraw\)"):
        handler.reply_of(RECORDED, withdraw, Metadata(type=withdraw.type), "alice")


@pytest.mark.parametrize("sender", ["mallory", None])
def test_a_command_id_naming_another_senders_command_is_taken_without_saying_whose(
    sender: str | None,
) -> None:
    with pytest.raises(CommandIdTaken, match=r"another sender's command$"):
        handler.reply_of(RECORDED, CREATE, Metadata(type=CREATE.type), sender)


def command_delivery(body: bytes, message_id: UUID, reply_to: str | None) -> Delivery:
    return Delivery(
        body=body,
        message_id=str(message_id),
        type=None,
        correlation_id=None,
        reply_to=reply_to,
        traceparent=None,
        causation_id=None,
        routing_key=None,
        user_id="alice",
    )


@pytest.mark.parametrize(("reply_to", "dead_lettered"), [("amq.rabbitmq.reply-to", False), (None, True)])
async def test_a_taken_command_id_is_refused_as_a_conflict_and_kept_when_no_one_can_be_told(
    reply_to: str | None, dead_lettered: bool
) -> None:
    store, command_id = InMemoryEventStore(), uuid4()
    create = b'{"type": "CreateCustomer", "name": "Ada", "locale": "en"}'
    first = await on_command(
        command_delivery(create, command_id, None), StreamCommands(store, KeyedLock()), Grants({})
    )
    customer = accepted(first.reply).id  # type: ignore[arg-type]
    body = f'{{"type": "OpenAccount", "customer_id": "{customer}"}}'.encode()
    outcome = await on_command(
        command_delivery(body, command_id, reply_to), StreamCommands(store, KeyedLock()), Grants({})
    )
    reply = rejected(outcome.reply, ErrorCode.CONCURRENCY_CONFLICT)  # type: ignore[arg-type]
    assert reply.command_id == command_id
    assert (outcome.dead_letter == reply.error) is dead_lettered
    assert len(store.streams) == 1


async def test_a_transfer_is_decided_on_itself_and_both_accounts_read_at_once() -> None:
    store = Conflicting(times=0)
    customer = accepted(await send(store, CreateCustomer(name="Ada", locale="en")))
    source = accepted(await send(store, OpenAccount(customer_id=customer.id)))
    destination = accepted(await send(store, OpenAccount(customer_id=customer.id)))
    transfer_id = uuid4()
    command = TransferMoney(
        transfer_id=transfer_id, from_account_id=source.id, to_account_id=destination.id, amount="1"
    )
    assert accepted(await send(store, command)).id == transfer_id
    assert store.loads[-1] == [transfer_id, source.id, destination.id]


async def test_a_transfer_naming_a_customer_as_its_account_is_not_found() -> None:
    store = InMemoryEventStore()
    customer = accepted(await send(store, CreateCustomer(name="Ada", locale="en")))
    account = accepted(await send(store, OpenAccount(customer_id=customer.id)))
    command = TransferMoney(from_account_id=account.id, to_account_id=customer.id, amount="1")
    rejected(await send(store, command), ErrorCode.NOT_FOUND)
