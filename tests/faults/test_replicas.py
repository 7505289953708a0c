"""Two replicas of each service on one broker and database: competing consumers stay correct."""

import asyncio
import itertools

import asyncpg

from cqrs_client.client import CqrsClient
from cqrs_contracts import (
    Deposit,
    EditCustomerDetails,
    GetAccount,
    GetAccountTransactions,
    GetCustomer,
)
from tests.e2e.scenarios import Race, accepted, fifty_withdrawals_from_300
from tests.pair import Pair, start, wait_ready
from tests.waiting import until


async def test_withdrawals_across_two_replicas_of_each_service_never_overdraw(pair: Pair) -> None:
    replicas = [
        start("command-2", "command_service", pair.env, pair.log_dir),
        start("query-2", "query_service", pair.env, pair.log_dir),
    ]
    try:
        await asyncio.gather(*(wait_ready(replica) for replica in replicas))
        async with CqrsClient.connect(pair.env["CQRS_RABBITMQ_URL"], timeout=30) as client:
            race = await fifty_withdrawals_from_300(client)
            owner, account = race.owner, race.account

            view = await client.ask(GetAccount(account_id=account.id, min_version=32))
            owner_view = await client.ask(GetCustomer(customer_id=owner.id, token=f"account:{account.id}@32"))
            history = await client.ask(GetAccountTransactions(account_id=account.id, limit=100))
        assert str(view.balance) == "0.00"
        assert [str(a.balance) for a in owner_view.accounts] == ["0.00"]
        assert [t.version for t in history.items] == list(range(32, 1, -1))
        balances = [t.balance_after for t in reversed(history.items)]
        assert all(later == earlier - 10 for earlier, later in itertools.pairwise(balances))

        async def all_published() -> bool:
            conn = await asyncpg.connect(pair.postgres_dsn)
            try:
                return bool(
                    await conn.fetchval("SELECT count(*) FROM events WHERE published_at IS NULL") == 0
                )
            finally:
                await conn.close()

        await until(all_published, what="one of the two relays to publish every event")

        async with CqrsClient.connect(pair.env["CQRS_RABBITMQ_URL"], timeout=30) as client:
            await customer_and_account_writes_at_once_all_show(client, race)
    finally:
        assert [replica.stop() for replica in replicas] == [0, 0]


async def customer_and_account_writes_at_once_all_show(client: CqrsClient, race: Race) -> None:
    """Edits of the customer and deposits to its account, all in flight: none is lost in the view."""
    replies = await asyncio.gather(
        *(accepted(client, Deposit(account_id=race.account.id, amount="1.00")) for _ in range(10)),
        *(
            accepted(client, EditCustomerDetails(customer_id=race.owner.id, name=f"Racer {n}"))
            for n in range(10)
        ),
    )
    deposits, edits = replies[:10], replies[10:]
    last_deposit = max(deposits, key=lambda reply: reply.version)
    last_edit = max(edits, key=lambda reply: reply.version)
    view = await client.ask(
        GetCustomer(customer_id=race.owner.id, token=f"{last_deposit.token},{last_edit.token}")
    )
    assert view.version == last_edit.version == 11
    assert view.name == f"Racer {edits.index(last_edit)}"
    assert [(str(a.balance), a.version) for a in view.accounts] == [("10.00", 42)]
