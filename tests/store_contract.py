"""The event store contract: every implementation of command_service.ports.EventStore passes it.

Subclass it in a ``Test...`` class with a ``store`` fixture (tests/unit/test_handler.py: in memory;
tests/integration/test_event_store.py: PostgreSQL). It drives the store through the handler, the
way the service does, and reads back only through the port.
"""

import asyncio
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from command_service import handler
from command_service.domain.account import MAX_ACCOUNTS_PER_CUSTOMER
from command_service.errors import CommandIdTaken
from command_service.ports import EventStore
from cqrs_contracts import (
    Command,
    CommandAccepted,
    CommandRejected,
    CommandReply,
    CreateCustomer,
    Deposit,
    EditCustomerDetails,
    ErrorCode,
    MakeCustomerPreferred,
    Metadata,
    OpenAccount,
    Withdraw,
)
from tests.builders import accepted, rejected


async def send(
    store: EventStore, command: Command, metadata: Metadata | None = None, sender: str | None = None
) -> CommandReply:
    return await handler.handle(command, metadata or Metadata(type=command.type), store, sender=sender)


async def recorded_reply(store: EventStore, command_id: UUID) -> CommandReply | None:
    recorded = (await store.load(command_id, [])).recorded
    return None if recorded is None else recorded.reply


async def customer_with_accounts(store: EventStore, accounts: int) -> UUID:
    customer = accepted(await send(store, CreateCustomer(name="Ada", locale="en"))).id
    for _ in range(accounts):
        accepted(await send(store, OpenAccount(customer_id=customer)))
    return customer


async def events_of(store: EventStore, stream_id: UUID) -> list[tuple[str, int]]:
    return [(e.metadata.type, e.envelope.version) for e in await store.read_stream(stream_id, 0, 1000)]


async def funded_account(store: EventStore, amount: str) -> UUID:
    customer = accepted(await send(store, CreateCustomer(name="Ada", locale="en")))
    account = accepted(await send(store, OpenAccount(customer_id=customer.id)))
    accepted(await send(store, Deposit(account_id=account.id, amount=Decimal(amount))))
    return account.id


class EventStoreContract:
    async def test_accepted_command_writes_events_state_and_result_together(self, store: EventStore) -> None:
        reply = accepted(await send(store, CreateCustomer(name="Ada", locale="en-gb")))
        assert reply.version == 1
        [event] = await store.read_stream(reply.id, 0, 10)
        assert (event.metadata.type, event.envelope.version) == ("CustomerCreated", 1)
        assert event.envelope.event.model_dump()["locale"] == "en-GB"
        loaded = await store.load(reply.command_id, [reply.id])
        state = loaded.streams[reply.id]
        assert (state.version, state.state["name"]) == (1, "Ada")
        assert loaded.recorded is not None
        assert (loaded.recorded.command_type, loaded.recorded.reply) == ("CreateCustomer", reply)

    async def test_redelivered_command_returns_the_stored_reply_and_changes_nothing(
        self, store: EventStore
    ) -> None:
        metadata = Metadata(type="CreateCustomer")
        command = CreateCustomer(name="Ada", locale="en")
        first = accepted(await send(store, command, metadata))
        again = await send(store, command, metadata)
        assert again == first
        assert await events_of(store, first.id) == [("CustomerCreated", 1)]

    async def test_concurrent_duplicates_of_one_command_apply_once(self, store: EventStore) -> None:
        metadata = Metadata(type="CreateCustomer")
        command = CreateCustomer(name="Ada", locale="en")
        replies = await asyncio.gather(*(send(store, command, metadata) for _ in range(8)))
        assert len({reply.model_dump_json() for reply in replies}) == 1
        assert await events_of(store, accepted(replies[0]).id) == [("CustomerCreated", 1)]

    async def test_create_without_id_derives_the_same_id_from_the_same_command_id(
        self, store: EventStore
    ) -> None:
        metadata = Metadata(type="CreateCustomer")
        first = accepted(await send(store, CreateCustomer(name="Ada", locale="en"), metadata))
        second = accepted(await send(store, CreateCustomer(name="Ada", locale="en"), metadata))
        assert first.id == second.id

    async def test_creating_an_existing_customer_is_rejected_and_recorded(self, store: EventStore) -> None:
        customer_id = uuid4()
        await send(store, CreateCustomer(customer_id=customer_id, name="A", locale="en"))
        metadata = Metadata(type="CreateCustomer")
        reply = await send(store, CreateCustomer(customer_id=customer_id, name="B", locale="en"), metadata)
        rejected(reply, ErrorCode.ALREADY_EXISTS)
        assert await recorded_reply(store, metadata.message_id) == reply

    async def test_concurrent_writers_without_expected_version_all_win_by_retrying(
        self, store: EventStore
    ) -> None:
        created = accepted(await send(store, CreateCustomer(name="Ada", locale="en")))
        edits = [EditCustomerDetails(customer_id=created.id, name=f"Ada {n}") for n in range(6)]
        replies = await asyncio.gather(*(send(store, edit) for edit in edits))
        assert all(isinstance(reply, CommandAccepted) for reply in replies)
        assert [version for _, version in await events_of(store, created.id)] == list(range(1, 8))

    async def test_two_writers_with_the_same_expected_version_never_both_win(self, store: EventStore) -> None:
        created = accepted(await send(store, CreateCustomer(name="Ada", locale="en")))
        commands = [
            EditCustomerDetails(customer_id=created.id, name="Ada B", expected_version=1),
            EditCustomerDetails(customer_id=created.id, name="Ada C", expected_version=1),
        ]
        replies = await asyncio.gather(*(send(store, command) for command in commands))
        assert sorted(reply.status for reply in replies) == ["accepted", "rejected"]
        loser = next(reply for reply in replies if isinstance(reply, CommandRejected))
        rejected(loser, ErrorCode.CONCURRENCY_CONFLICT)

    async def test_stale_expected_version_is_rejected(self, store: EventStore) -> None:
        created = accepted(await send(store, CreateCustomer(name="Ada", locale="en")))
        reply = await send(store, MakeCustomerPreferred(customer_id=created.id, expected_version=0))
        rejected(reply, ErrorCode.CONCURRENCY_CONFLICT)

    async def test_a_command_that_changes_nothing_is_accepted_at_the_current_version(
        self, store: EventStore
    ) -> None:
        created = accepted(await send(store, CreateCustomer(name="Ada", locale="en")))
        first = accepted(await send(store, MakeCustomerPreferred(customer_id=created.id)))
        second = accepted(await send(store, MakeCustomerPreferred(customer_id=created.id)))
        assert (first.version, second.version) == (2, 2)
        assert len(await events_of(store, created.id)) == 2

    async def test_an_account_needs_an_existing_customer(self, store: EventStore) -> None:
        reply = rejected(await send(store, OpenAccount(customer_id=uuid4())), ErrorCode.NOT_FOUND)
        assert "customer" in reply.error.message

    async def test_ids_of_the_other_aggregate_kind_are_rejected_not_crashed_on(
        self, store: EventStore
    ) -> None:
        customer = accepted(await send(store, CreateCustomer(name="Ada", locale="en")))
        account = accepted(await send(store, OpenAccount(customer_id=customer.id)))
        on_customer = await send(store, Deposit(account_id=customer.id, amount=Decimal(1)))
        on_account = await send(store, MakeCustomerPreferred(customer_id=account.id))
        reopen = await send(store, OpenAccount(account_id=customer.id, customer_id=customer.id))
        codes = [r.error.code for r in (on_customer, on_account, reopen) if isinstance(r, CommandRejected)]
        assert codes == [ErrorCode.NOT_FOUND, ErrorCode.NOT_FOUND, ErrorCode.ALREADY_EXISTS]

    async def test_the_reply_carries_a_consistency_token(self, store: EventStore) -> None:
        account_id = await funded_account(store, "5")
        reply = accepted(await send(store, Deposit(account_id=account_id, amount=Decimal(1))))
        assert reply.token == f"account:{account_id}@3"

    async def test_concurrent_withdrawals_never_overdraw(self, store: EventStore) -> None:
        account_id = await funded_account(store, "100.00")
        withdrawals = [Withdraw(account_id=account_id, amount=Decimal("10.00")) for _ in range(15)]
        replies = await asyncio.gather(*(send(store, withdrawal) for withdrawal in withdrawals))
        assert sum(isinstance(r, CommandAccepted) for r in replies) == 10
        assert {r.error.code for r in replies if isinstance(r, CommandRejected)} == {
            ErrorCode.INSUFFICIENT_FUNDS
        }
        state = (await store.load(uuid4(), [account_id])).streams[account_id]
        assert Decimal(state.state["balance"]) == Decimal("0.00")
        last = (await store.read_stream(account_id, 0, 1000))[-1]
        assert last.envelope.event.model_dump(mode="json")["balance"] == "0.00"

    async def test_streams_are_listed_in_id_order_a_page_at_a_time(self, store: EventStore) -> None:
        customers = [accepted(await send(store, CreateCustomer(name=n, locale="en"))).id for n in "ABC"]
        account = accepted(await send(store, OpenAccount(customer_id=customers[0], currency="EUR"))).id
        everything = sorted([*customers, account])
        first = await store.list_streams(None, 3)
        rest = await store.list_streams(first[-1].stream_id, 3)
        assert [ref.stream_id for ref in first + rest] == everything
        kinds = {ref.stream_id: (ref.stream_type, ref.version) for ref in first + rest}
        assert kinds[account] == ("account", 1)
        assert kinds[customers[1]] == ("customer", 1)
        assert await store.count_streams() == 4

    async def test_a_command_id_reused_by_another_command_is_refused_and_applies_nothing(
        self, store: EventStore
    ) -> None:
        metadata = Metadata(type="CreateCustomer")
        first = accepted(await send(store, CreateCustomer(name="Ada", locale="en"), metadata))
        with pytest.raises(CommandIdTaken, match="another command"):
            await send(store, OpenAccount(customer_id=first.id), metadata)
        assert await store.count_streams() == 1
        assert await recorded_reply(store, metadata.message_id) == first

    async def test_a_command_id_reused_by_another_sender_is_refused_and_applies_nothing(
        self, store: EventStore
    ) -> None:
        metadata = Metadata(type="CreateCustomer")
        command = CreateCustomer(name="Ada", locale="en")
        first = accepted(await send(store, command, metadata, sender="alice"))
        for other in ("mallory", None):
            with pytest.raises(CommandIdTaken, match="another sender's command"):
                await send(store, command, metadata, sender=other)
        assert await send(store, command, metadata, sender="alice") == first
        assert await events_of(store, first.id) == [("CustomerCreated", 1)]

    async def test_a_result_recorded_without_a_sender_answers_a_repeat_from_any_sender(
        self, store: EventStore
    ) -> None:
        metadata = Metadata(type="CreateCustomer")
        command = CreateCustomer(name="Ada", locale="en")
        first = accepted(await send(store, command, metadata, sender=None))
        assert await send(store, command, metadata, sender="alice") == first
        assert await store.count_streams() == 1

    async def test_of_two_concurrent_commands_under_one_id_only_the_first_recorded_applies(
        self, store: EventStore
    ) -> None:
        customer = accepted(await send(store, CreateCustomer(name="Ada", locale="en"))).id
        metadata = Metadata(type="OpenAccount")
        await asyncio.gather(*(store.load(uuid4(), [customer]) for _ in range(2)))  # two connections
        outcomes = await asyncio.gather(
            # Each names its stream: they meet only on the command id.
            send(store, CreateCustomer(customer_id=uuid4(), name="Bob", locale="en"), metadata),
            send(store, OpenAccount(account_id=uuid4(), customer_id=customer), metadata),
            return_exceptions=True,
        )
        [winner] = [outcome for outcome in outcomes if isinstance(outcome, CommandAccepted)]
        assert sum(isinstance(outcome, CommandIdTaken) for outcome in outcomes) == 1
        assert await store.count_streams() == 2
        assert await recorded_reply(store, metadata.message_id) == winner
        owned = (await store.load(uuid4(), [customer])).streams[customer].owned
        assert owned == (1 if winner.stream_type == "account" else 0)

    async def test_a_customer_opens_at_most_the_bounded_number_of_accounts(self, store: EventStore) -> None:
        customer = await customer_with_accounts(store, MAX_ACCOUNTS_PER_CUSTOMER)
        accepted(await send(store, EditCustomerDetails(customer_id=customer, name="Ada B")))
        reply = rejected(await send(store, OpenAccount(customer_id=customer)), ErrorCode.VALIDATION_ERROR)
        assert f"({MAX_ACCOUNTS_PER_CUSTOMER})" in reply.error.message
        assert set(reply.error.fields) == {"customer_id"}
        assert await store.count_streams() == 1 + MAX_ACCOUNTS_PER_CUSTOMER
        assert (await store.load(uuid4(), [customer])).streams[customer].owned == MAX_ACCOUNTS_PER_CUSTOMER

    async def test_concurrent_openings_never_pass_the_bound(self, store: EventStore) -> None:
        customer = await customer_with_accounts(store, MAX_ACCOUNTS_PER_CUSTOMER - 1)
        # Four reads at once first, so that a pool has four connections open and the openings
        # below meet in the store, not one after the other in a queue for a connection.
        await asyncio.gather(*(store.load(uuid4(), [customer]) for _ in range(4)))
        replies = await asyncio.gather(*(send(store, OpenAccount(customer_id=customer)) for _ in range(4)))
        assert sorted(reply.status for reply in replies) == ["accepted", "rejected", "rejected", "rejected"]
        assert {r.error.code for r in replies if isinstance(r, CommandRejected)} == {
            ErrorCode.VALIDATION_ERROR
        }
        assert await store.count_streams() == 1 + MAX_ACCOUNTS_PER_CUSTOMER

    async def test_concurrent_openings_for_one_customer_are_each_counted(self, store: EventStore) -> None:
        customer = await customer_with_accounts(store, 0)
        replies = await asyncio.gather(*(send(store, OpenAccount(customer_id=customer)) for _ in range(5)))
        assert all(isinstance(reply, CommandAccepted) for reply in replies)
        assert (await store.load(uuid4(), [customer])).streams[customer].owned == 5

    async def test_read_all_gives_every_event_once_in_gap_free_positions(self, store: EventStore) -> None:
        customer = await customer_with_accounts(store, 2)
        accepted(await send(store, MakeCustomerPreferred(customer_id=customer)))
        await store.assign_positions(1000)
        first, head = await store.read_all(0, 2)
        rest, _ = await store.read_all(2, 1000)
        positions = [item.envelope.position for item in first + rest]
        assert head == 4
        assert positions == [1, 2, 3, 4]
        assert [item.seq for item in first + rest] == sorted(item.seq for item in first + rest)
        assert await store.read_all(4, 10) == ([], 4)
