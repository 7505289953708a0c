"""The query service's view cache (query_service/read_model/cache.py) against the real servers: whatever is
cached, a read never goes back in time, and a change through another stream (a deposit changes its
owner's customer view) shows at once to a query that waits for it."""

import asyncio
import random
from decimal import Decimal
from uuid import UUID

from bench.pair_ops import view_reads
from cqrs_client.client import CqrsClient
from cqrs_contracts import (
    CreateCustomer,
    Deposit,
    EditCustomerDetails,
    GetAccount,
    GetCustomer,
    OpenAccount,
)
from tests.builders import accepted
from tests.pair import Pair


async def test_reads_never_go_back_while_edits_and_reads_race(pair: Pair, client: CqrsClient) -> None:
    customers = [accepted(await client.send(CreateCustomer(name="Race 0", locale="en"))).id for _ in range(4)]
    before = await view_reads(pair.query.url)
    last: dict[UUID, int] = {}

    async def editor(customer: UUID) -> None:
        for n in range(1, 16):
            reply = accepted(await client.send(EditCustomerDetails(customer_id=customer, name=f"Race {n}")))
            view = await client.ask(GetCustomer(customer_id=customer, min_version=reply.version))
            assert view.version >= reply.version
            assert view.name == f"Race {view.version - 1}"
            last[customer] = reply.version

    async def reader(customer: UUID) -> None:
        seen = 0
        for _ in range(60):
            view = await client.ask(GetCustomer(customer_id=customer, min_version=1))
            assert view.version >= seen, "a read went back in time"
            assert view.name == f"Race {view.version - 1}"
            seen = view.version
            await asyncio.sleep(random.uniform(0, 0.005))

    await asyncio.gather(*(editor(c) for c in customers), *(reader(c) for c in customers for _ in range(2)))
    # Every edit projected: plain reads (no token) show the last version, never a cached older one.
    for customer in customers:
        await client.ask(GetCustomer(customer_id=customer, min_version=last[customer]))
        for _ in range(3):
            view = await client.ask(GetCustomer(customer_id=customer))
            assert (view.version, view.name) == (16, "Race 15")
    reads = await view_reads(pair.query.url) - before
    assert reads["hit"] > 0, reads  # the cache was used: this test is about it


async def test_a_deposit_shows_in_the_cached_customer_view_of_its_owner(client: CqrsClient) -> None:
    owner = accepted(await client.send(CreateCustomer(name="Saver", locale="en"))).id
    account = accepted(await client.send(OpenAccount(customer_id=owner)))
    await client.ask(GetAccount(account_id=account.id, min_version=1))
    for _ in range(2):  # read twice: the second comes from the cache
        view = await client.ask(GetCustomer(customer_id=owner))
        assert [a.balance for a in view.accounts] == [Decimal("0.00")]
    deposit = accepted(await client.send(Deposit(account_id=account.id, amount=Decimal("12.50"))))
    # The customer stream did not move; the account stream did, and its token says so.
    view = await client.ask(GetCustomer(customer_id=owner, token=deposit.token))
    assert [a.balance for a in view.accounts] == [Decimal("12.50")]
    assert (await client.ask(GetCustomer(customer_id=owner))).accounts[0].balance == Decimal("12.50")
    account_view = await client.ask(GetAccount(account_id=account.id))
    assert account_view.balance == Decimal("12.50")
