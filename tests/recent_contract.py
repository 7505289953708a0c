"""Deciding on the states a process last knew (command_service/recent_states.py), against any
event store: two replicas, each with its own recent states, over one store. Run in milliseconds
on the in-memory store (tests/unit) and against PostgreSQL (tests/integration)."""

from collections.abc import Sequence
from decimal import Decimal
from typing import cast
from uuid import UUID

from command_service import handler
from command_service.ports import EventStore, Loaded
from command_service.recent_states import RecentStates
from cqrs_contracts import (
    Command,
    CommandAccepted,
    CommandReply,
    CreateCustomer,
    Deposit,
    ErrorCode,
    Metadata,
    OpenAccount,
    Withdraw,
)
from tests.builders import accepted, rejected


class Counting:
    """``store``, counting its loads (``.port`` is it as the handler takes it)."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.loads = 0
        self.port = cast(EventStore, self)

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)

    async def load(self, command_id: UUID, stream_ids: Sequence[UUID]) -> Loaded:
        self.loads += 1
        return await self.store.load(command_id, stream_ids)


async def run(
    store: EventStore, recent: RecentStates, command: Command, metadata: Metadata | None = None
) -> CommandReply:
    metadata = metadata or Metadata(type=command.type)
    return await handler.handle(command, metadata, store, sender="teller", recent=recent)


async def funded_account(store: EventStore, recent: RecentStates, amount: str) -> UUID:
    customer = accepted(await run(store, recent, CreateCustomer(name="Ada", locale="en"))).id
    account = accepted(await run(store, recent, OpenAccount(customer_id=customer, currency="EUR"))).id
    accepted(await run(store, recent, Deposit(account_id=account, amount=Decimal(amount))))
    return account


class RecentStatesContract:
    """Subclasses give a ``store`` fixture."""

    async def test_a_known_stream_is_decided_on_without_a_load(self, store: EventStore) -> None:
        counting, mine = Counting(store), RecentStates()
        account = await funded_account(counting.port, mine, "10")
        before = counting.loads
        for _ in range(3):
            accepted(await run(counting.port, mine, Deposit(account_id=account, amount=Decimal(1))))
        assert counting.loads == before
        reply = accepted(await run(counting.port, mine, Deposit(account_id=account, amount=Decimal(1))))
        assert reply.version == 6

    async def test_a_create_needs_no_load(self, store: EventStore) -> None:
        counting = Counting(store)
        accepted(await run(counting.port, RecentStates(), CreateCustomer(name="Bo", locale="en")))
        assert counting.loads == 0

    async def test_a_stream_another_replica_moved_is_loaded_and_decided_again(
        self, store: EventStore
    ) -> None:
        mine, theirs = RecentStates(), RecentStates()
        account = await funded_account(store, mine, "10")
        accepted(await run(store, theirs, Deposit(account_id=account, amount=Decimal(5))))  # version 3
        reply = accepted(await run(store, mine, Deposit(account_id=account, amount=Decimal(1))))
        assert reply.version == 4
        withdrawn = accepted(await run(store, mine, Withdraw(account_id=account, amount=Decimal(16))))
        assert withdrawn.version == 5  # 10 + 5 + 1 = 16: every deposit counted, none lost

    async def test_a_refusal_is_never_decided_on_what_was_assumed(self, store: EventStore) -> None:
        mine, theirs = RecentStates(), RecentStates()
        account = await funded_account(store, mine, "1")
        accepted(await run(store, theirs, Deposit(account_id=account, amount=Decimal(99))))
        # On what ``mine`` knows (a balance of 1) this would be refused; the store says 100.
        accepted(await run(store, mine, Withdraw(account_id=account, amount=Decimal(50))))

    async def test_a_create_of_a_stream_another_replica_made_is_refused(self, store: EventStore) -> None:
        made = accepted(await run(store, RecentStates(), CreateCustomer(name="Cy", locale="en")))
        again = CreateCustomer(name="Cy", locale="en", customer_id=made.id)
        rejected(await run(store, RecentStates(), again), ErrorCode.ALREADY_EXISTS)

    async def test_a_repeat_gets_the_first_reply_and_changes_nothing(self, store: EventStore) -> None:
        mine = RecentStates()
        account = await funded_account(store, mine, "10")
        deposit = Deposit(account_id=account, amount=Decimal(1))
        metadata = Metadata(type=deposit.type)
        first = accepted(await run(store, mine, deposit, metadata))
        again = await run(store, mine, deposit, metadata)
        assert isinstance(again, CommandAccepted)
        assert again.version == first.version
        assert (
            accepted(await run(store, mine, Deposit(account_id=account, amount=Decimal(1)))).version
            == first.version + 1
        )


def queued(*commands: Command) -> list[handler.Pending]:
    """Commands as they wait for their stream, each with metadata of its own."""
    return [handler.Pending(command, Metadata(type=command.type), "teller") for command in commands]


class TogetherContract:
    """Commands that queued for one stream, decided in turn and committed in one statement
    (handler.handle_together, store.commit_together). Subclasses give a ``store`` fixture."""

    async def test_queued_deposits_commit_together_each_with_its_version_and_causation(
        self, store: EventStore
    ) -> None:
        counting, mine = Counting(store), RecentStates()
        account = await funded_account(counting.port, mine, "10")
        before, loads = len(await store.read_stream(account, 0, 100)), counting.loads
        pending = queued(*(Deposit(account_id=account, amount=Decimal(n)) for n in (1, 2, 3)))
        replies = await handler.handle_together(pending, counting.port, mine)
        assert replies is not None
        assert [accepted(reply).version for reply in replies] == [3, 4, 5]
        assert counting.loads == loads
        events = (await store.read_stream(account, 0, 100))[before:]
        assert [item.envelope.version for item in events] == [3, 4, 5]
        assert [item.metadata.causation_id for item in events] == [
            str(p.metadata.message_id) for p in pending
        ]
        assert [item.metadata.correlation_id for item in events] == [
            p.metadata.correlation_id for p in pending
        ]
        # What they left is known: the next one is decided on it, and counts every deposit.
        withdrawn = accepted(await run(counting.port, mine, Withdraw(account_id=account, amount=Decimal(16))))
        assert withdrawn.version == 6
        assert counting.loads == loads

    async def test_a_refusal_among_them_is_recorded_and_the_others_count(self, store: EventStore) -> None:
        mine = RecentStates()
        account = await funded_account(store, mine, "10")
        pending = queued(
            Withdraw(account_id=account, amount=Decimal(8)),
            Withdraw(account_id=account, amount=Decimal(8)),  # 2 left: refused
            Deposit(account_id=account, amount=Decimal(1)),
        )
        replies = await handler.handle_together(pending, store, mine)
        assert replies is not None
        assert accepted(replies[0]).version == 3
        rejected(replies[1], ErrorCode.INSUFFICIENT_FUNDS)
        assert accepted(replies[2]).version == 4
        # Repeated, the refused one gets its recorded refusal.
        again = await handler.handle(pending[1].command, pending[1].metadata, store, sender="teller")
        rejected(again, ErrorCode.INSUFFICIENT_FUNDS)

    async def test_a_stream_another_replica_moved_writes_nothing_and_they_go_alone(
        self, store: EventStore
    ) -> None:
        mine, theirs = RecentStates(), RecentStates()
        account = await funded_account(store, mine, "10")
        accepted(await run(store, theirs, Deposit(account_id=account, amount=Decimal(5))))  # version 3
        pending = queued(*(Deposit(account_id=account, amount=Decimal(1)) for _ in range(2)))
        assert await handler.handle_together(pending, store, mine) is None
        assert [item.envelope.version for item in await store.read_stream(account, 0, 100)] == [1, 2, 3]
        replies = [
            await handler.handle(p.command, p.metadata, store, sender="teller", recent=mine) for p in pending
        ]
        assert [accepted(reply).version for reply in replies] == [4, 5]

    async def test_a_command_id_taken_already_writes_nothing_and_the_repeat_gets_its_first_reply(
        self, store: EventStore
    ) -> None:
        mine = RecentStates()
        account = await funded_account(store, mine, "10")
        first = queued(Deposit(account_id=account, amount=Decimal(1)))[0]
        accepted(await handler.handle(first.command, first.metadata, store, sender="teller", recent=mine))
        pending = [*queued(Deposit(account_id=account, amount=Decimal(2))), first]
        assert await handler.handle_together(pending, store, mine) is None
        assert len(await store.read_stream(account, 0, 100)) == 3
        again = await handler.handle(first.command, first.metadata, store, sender="teller", recent=mine)
        assert accepted(again).version == 3

    async def test_one_command_delivered_twice_among_them_writes_nothing_and_counts_once_alone(
        self, store: EventStore
    ) -> None:
        mine = RecentStates()
        account = await funded_account(store, mine, "10")
        twice = queued(Deposit(account_id=account, amount=Decimal(1)))[0]
        assert await handler.handle_together([twice, twice], store, mine) is None
        assert len(await store.read_stream(account, 0, 100)) == 2
        replies = [
            await handler.handle(p.command, p.metadata, store, sender="teller", recent=mine)
            for p in [twice] * 2
        ]
        assert [accepted(reply).version for reply in replies] == [3, 3]

    async def test_what_cannot_go_together_is_said_before_anything_is_written(
        self, store: EventStore
    ) -> None:
        mine = RecentStates()
        account = await funded_account(store, mine, "10")
        unknown = queued(*(Deposit(account_id=account, amount=Decimal(1)) for _ in range(2)))
        assert await handler.handle_together(unknown, store, RecentStates()) is None  # not known here
        creates = queued(CreateCustomer(name="Di", locale="en"), CreateCustomer(name="Di", locale="en"))
        assert await handler.handle_together(creates, store, mine) is None
        refusals = queued(*(Withdraw(account_id=account, amount=Decimal(99)) for _ in range(2)))
        assert await handler.handle_together(refusals, store, mine) is None  # nothing checks a refusal alone
        assert len(await store.read_stream(account, 0, 100)) == 2
