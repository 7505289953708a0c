"""A steady load of commands and queries that rides out a fault, and what it must leave behind.

Every command is sent until it is answered, with the same command id (a reply lost with a node is
asked for again); each accepted reply is kept with the time it came, to check the event store and
to measure how long commands stalled.
"""

import asyncio
import itertools
import random
import time
from dataclasses import dataclass, field
from decimal import Decimal
from uuid import UUID, uuid4

import asyncpg

from cqrs_client.client import CqrsClient
from cqrs_client.errors import BrokerUnavailable, RemoteError, RequestTimeout
from cqrs_contracts import (
    Command,
    CommandAccepted,
    CommandReply,
    CreateCustomer,
    Deposit,
    GetCustomer,
    OpenAccount,
)

SEND_DEADLINE_SECONDS = 120.0


@dataclass
class Load:
    accepted: dict[UUID, float] = field(default_factory=dict)  # command id -> when its reply came
    customers: list[UUID] = field(default_factory=list)
    accounts: dict[UUID, UUID] = field(default_factory=dict)  # account -> its customer
    deposited: dict[UUID, Decimal] = field(default_factory=dict)
    queries_answered: int = 0
    queries_failed: int = 0
    retries: int = 0

    def longest_gap(self, start: float = 0.0, end: float = float("inf")) -> float:
        """The longest time between two accepted replies, the first of them between ``start`` and
        ``end``: how long commands stalled at worst (the recovery time, around a fault)."""
        times = sorted(self.accepted.values())
        return max((b - a for a, b in itertools.pairwise(times) if start <= a <= end), default=0.0)


async def send(client: CqrsClient, load: Load, command: Command) -> CommandAccepted:
    """Send until answered (same command id): a node lost on the way costs a retry, not the command."""
    command_id = uuid4()
    deadline = time.monotonic() + SEND_DEADLINE_SECONDS
    while True:
        try:
            reply: CommandReply = await client.send(command, command_id=command_id)
        except (RequestTimeout, BrokerUnavailable, ConnectionError, RuntimeError):
            if time.monotonic() > deadline:
                raise
            load.retries += 1
            await asyncio.sleep(0.2)
            continue
        if not isinstance(reply, CommandAccepted):
            raise AssertionError(f"{command!r} was refused: {reply!r}")
        load.accepted[command_id] = time.monotonic()
        return reply


async def worker(client: CqrsClient, load: Load, stopped: asyncio.Event, seed: int) -> None:
    """Customers, their accounts, deposits, and reads of them, until ``stopped``."""
    rng = random.Random(seed)
    while not stopped.is_set():
        roll = rng.random()
        if roll < 0.25 or not load.accounts:
            customer = uuid4()
            await send(client, load, CreateCustomer(customer_id=customer, name=f"Load {seed}", locale="en"))
            load.customers.append(customer)
            account = uuid4()
            await send(client, load, OpenAccount(account_id=account, customer_id=customer, currency="EUR"))
            load.accounts[account] = customer
        elif roll < 0.75:
            account = rng.choice(list(load.accounts))
            amount = Decimal(rng.randint(1, 100))
            await send(client, load, Deposit(account_id=account, amount=amount))
            load.deposited[account] = load.deposited.get(account, Decimal(0)) + amount
        else:
            await ask(client, load, rng.choice(load.customers))


async def ask(client: CqrsClient, load: Load, customer: UUID) -> None:
    try:
        await client.ask(GetCustomer(customer_id=customer))
        load.queries_answered += 1
    except (RemoteError, RequestTimeout, BrokerUnavailable, ConnectionError, RuntimeError):
        load.queries_failed += 1


async def stored_once(dsn: str, load: Load) -> None:
    """Every accepted command left exactly one event, and one recorded reply."""
    conn = await asyncpg.connect(dsn)
    try:
        ids = [str(command_id) for command_id in load.accepted]
        rows = await conn.fetch(
            "SELECT causation_id, count(*) FROM events WHERE causation_id = ANY($1) GROUP BY 1", ids
        )
        counts: dict[str, int] = {row[0]: row[1] for row in rows}
        results = await conn.fetchval(
            "SELECT count(*) FROM command_results WHERE command_id = ANY($1::uuid[])", ids
        )
    finally:
        await conn.close()
    missing = [command_id for command_id in ids if counts.get(command_id) != 1]
    assert not missing, f"{len(missing)} accepted commands not stored exactly once: {missing[:5]}"
    assert results == len(ids)
