"""The pair's side of the benchmark: seeding a read model, and each measured operation as a client.

Every operation checks its answer (an accepted command, a found customer, a non-empty page), so a
figure never counts failures as work.
"""

import asyncio
import random
import sys
import time
from collections import Counter as Tally
from dataclasses import dataclass, field
from decimal import Decimal
from uuid import UUID

import aio_pika

from bench.timing import Operation, Timed
from cqrs_client.client import CqrsClient
from cqrs_client.messaging.topology import COMMAND_QUEUE, EVENT_QUEUE
from cqrs_contracts import (
    CommandAccepted,
    CreateCustomer,
    CustomerView,
    Deposit,
    GetAccount,
    GetCustomer,
    GetCustomersWithName,
    OpenAccount,
)
from cqrs_contracts.replies import QueryOk
from tests.scrape import by_label, exposition, total

NAMES = 2_000  # distinct names over the seeded customers: a find by name returns a handful
HOT_ACCOUNTS = 10  # spread deposits over these; one more account takes every deposit of its figure
SEED_IN_FLIGHT = 64


class BenchFailed(Exception):
    """The pair answered wrongly (a lost update, a rejected command): no figure is worth printing."""


def name_of(n: int) -> str:
    return f"Bench Customer {n % NAMES:04d}"


@dataclass
class Seeded:
    customers: list[UUID] = field(default_factory=list)
    accounts: list[UUID] = field(default_factory=list)
    single: UUID | None = None  # the account of the one-account figure, none of ``accounts``
    view: CustomerView | None = None


async def seed(client: CqrsClient, admin_url: str, count: int) -> Seeded:
    """``count`` customers through the command side, HOT_ACCOUNTS accounts and one more, then wait
    for the view."""
    seeded = Seeded()
    began = time.perf_counter()
    numbers = iter(range(count))

    async def creator() -> None:
        for n in numbers:
            reply = await client.send(CreateCustomer(name=name_of(n), locale="en"))
            if not isinstance(reply, CommandAccepted):
                raise BenchFailed(f"seeding: {reply}")
            seeded.customers.append(reply.id)
            if len(seeded.customers) % 2_000 == 0:
                print(f"    seeded {len(seeded.customers):,} customers", file=sys.stderr, flush=True)

    await asyncio.gather(*(creator() for _ in range(SEED_IN_FLIGHT)))
    for owner in seeded.customers[: HOT_ACCOUNTS + 1]:
        opened = await client.send(OpenAccount(customer_id=owner))
        if not isinstance(opened, CommandAccepted):
            raise BenchFailed(f"seeding: {opened}")
        seeded.accounts.append(opened.id)
    seeded.single = seeded.accounts.pop()
    await drained(admin_url)
    last = seeded.customers[-1]
    seeded.view = await client.ask(GetCustomer(customer_id=last, min_version=1))
    took = time.perf_counter() - began
    print(f"    {count:,} customers seeded and projected in {took:.0f} s", file=sys.stderr, flush=True)
    return seeded


async def drained(admin_url: str, timeout: float = 300) -> None:
    """Until the query service's event queue is empty (every committed event projected or in hand)."""
    async with await aio_pika.connect(admin_url) as connection:
        channel = await connection.channel()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            queue = await channel.declare_queue(EVENT_QUEUE, passive=True)
            if queue.declaration_result.message_count == 0:
                return
            await asyncio.sleep(0.5)
    raise BenchFailed(f"the event queue did not drain within {timeout:g} s")


async def view_reads(metrics_url: str) -> Tally[str]:
    """The query service's reads of views by id so far, by source (hit, miss, uncached)."""
    return by_label(await exposition(metrics_url), "cqrs_view_reads_total", "source")


def hit_note(before: Tally[str], after: Tally[str]) -> str:
    reads = after - before
    total = sum(reads.values())
    return f"cache hits {100 * reads['hit'] / total:.0f}%" if total else ""


BATCHES = "cqrs_projection_batch_events"  # events of one owner the projector applied together, live


async def projected(metrics_url: str) -> Tally[str]:
    """The query service's events projected so far ("events"), and those applied in a batch
    with others of their owner ("together": events, "batches": how many batches)."""
    text = await exposition(metrics_url)
    return Tally(
        events=int(total(text, "cqrs_projection_lag_seconds_count")),
        together=int(total(text, f"{BATCHES}_sum", result="together")),
        batches=int(total(text, f"{BATCHES}_count", result="together")),
    )


async def committed(metrics_url: str) -> Tally[str]:
    """The command service's commands so far ("commands", off the commands queue), and those committed
    together with others of their stream ("together"; "batches": how many statements)."""
    text = await exposition(metrics_url)
    return Tally(
        commands=int(total(text, "cqrs_messages_handled_total", queue=COMMAND_QUEUE)),
        together=int(total(text, "cqrs_commands_together_sum", result="together")),
        batches=int(total(text, "cqrs_commands_together_count", result="together")),
    )


def together_note(before: Tally[str], after: Tally[str]) -> str:
    """ "committed together 40%, 3.2 a statement": how much of the commands the group commit took."""
    return _share_note("committed", "statement", after - before, of="commands")


def batch_note(before: Tally[str], after: Tally[str]) -> str:
    """ "projected together 62%, 3.1 a batch": how much of the projection the group commit took."""
    return _share_note("projected", "batch", after - before, of="events")


def _share_note(done: str, unit: str, moved: Tally[str], *, of: str) -> str:
    if not moved[of]:
        return ""
    share = 100 * moved["together"] / moved[of]
    return f"{done} together {share:.0f}%, {moved['together'] / max(1, moved['batches']):.1f} a {unit}"


# The lag's stages, each a histogram of one service: commit -> the broker's confirm of the publish
# (the relay), and commit -> the projection applied (the relay, the broker and the projector).
LAG_STAGES = {
    "published": ("command", "cqrs_commit_to_publish_seconds"),
    "projected": ("query", "cqrs_projection_lag_seconds"),
}


async def buckets(metrics_url: str, histogram: str) -> Tally[str]:
    """``histogram``'s cumulative counts so far, by upper bound (its ``le`` label)."""
    return by_label(await exposition(metrics_url), f"{histogram}_bucket", "le")


GC_PAUSES = "cqrs_gc_pause_seconds"  # each service's collector pauses (cqrs_shared.runtime.collector)


async def gc_seconds(metrics_urls: dict[str, str]) -> dict[str, float]:
    """Each service's time so far in pauses of Python's garbage collector, all generations."""
    return {name: total(await exposition(url), f"{GC_PAUSES}_sum") for name, url in metrics_urls.items()}


def gc_note(before: dict[str, float], after: dict[str, float], operations: int) -> str:
    """ "gc ms/op: command 0.050, query 0.210": each service's collector pauses per operation."""
    spent = ", ".join(
        f"{name} {1000 * (after[name] - before[name]) / max(1, operations):.3f}" for name in after
    )
    return f"gc ms/op: {spent}"


def bound_ms(counts: Tally[str], q: float) -> str:
    """The upper bound, in ms, of the bucket that holds the ``q`` quantile of ``counts`` (cumulative
    counts by ``le``, as ``buckets`` gives them): "<= 50 ms", "> 10000 ms", or "-" for none."""
    ordered = sorted(counts.items(), key=lambda item: float(item[0]))
    if not ordered or not ordered[-1][1]:
        return "-"
    wanted = q * ordered[-1][1]
    for index, (bound, count) in enumerate(ordered):
        if count >= wanted:
            if bound == "+Inf":
                return f"> {1000 * float(ordered[index - 1][0]):g} ms" if index else "-"
            return f"<= {1000 * float(bound):g} ms"
    return "-"


def quantiles(counts: Tally[str]) -> str:
    """ "p50 <= 25 ms, p90 <= 50 ms, p99 <= 250 ms (n 3480)": where a histogram's quantiles fall."""
    bounds = ", ".join(f"p{round(100 * q)} {bound_ms(counts, q)}" for q in (0.5, 0.9, 0.99))
    return f"{bounds} (n {counts['+Inf']})"


def reply_bytes(view: CustomerView) -> int:
    """The size of the query service's reply carrying ``view``: what the echo answers with."""
    return len(QueryOk[CustomerView](result=view).model_dump_json())


def get_customer(client: CqrsClient, seeded: Seeded) -> Operation:
    async def operation(n: int) -> None:
        wanted = random.choice(seeded.customers)
        view = await client.ask(GetCustomer(customer_id=wanted))
        if view.id != wanted:
            raise BenchFailed(f"asked for {wanted}, got {view.id}")

    return operation


def find_by_name(client: CqrsClient, seeded: Seeded) -> Operation:
    names = min(NAMES, len(seeded.customers))  # the names seeding gave

    async def operation(n: int) -> None:
        name = name_of(n % names)
        page = await client.ask(GetCustomersWithName(name=name))
        if not page.items:
            raise BenchFailed(f"no customer named {name!r}")

    return operation


def create_customer(client: CqrsClient) -> Operation:
    async def operation(n: int) -> None:
        reply = await client.send(CreateCustomer(name=name_of(n), locale="en"))
        if not isinstance(reply, CommandAccepted):
            raise BenchFailed(f"CreateCustomer: {reply}")

    return operation


@dataclass
class HotDeposits:
    """Deposits of 1.00 spread over a few accounts, many at once on each (conflicts included)."""

    client: CqrsClient
    accounts: list[UUID]
    accepted: Tally[UUID] = field(default_factory=Tally)
    rejected: Tally[str] = field(default_factory=Tally)
    versions: dict[UUID, int] = field(default_factory=dict)

    async def operation(self, n: int) -> None:
        account = self.accounts[n % len(self.accounts)]
        reply = await self.client.send(Deposit(account_id=account, amount=Decimal("1.00")))
        if not isinstance(reply, CommandAccepted):
            self.rejected[reply.error.code.value] += 1
            return
        self.accepted[account] += 1
        self.versions[account] = max(self.versions.get(account, 0), reply.version)

    async def lost_updates(self, admin_url: str) -> int:
        """Accepted deposits missing from the balances the query side shows, once it projected all."""
        await drained(admin_url)
        lost = 0
        for account in self.accounts:
            version = self.versions.get(account, 1)
            view = await self.client.ask(GetAccount(account_id=account, min_version=version))
            lost += self.accepted[account] - int(view.balance)
        return lost


def accepted_to_visible(client: CqrsClient, visible: Timed, every: int) -> Operation:
    """CreateCustomer; for one in ``every``, then GetCustomer with min_version: the time from the
    accepted reply to the answer goes into ``visible``. (One in ``every`` only, so that the probe is
    not the load: a query costs the read side about as much as projecting the event.)"""

    async def operation(n: int) -> None:
        reply = await client.send(CreateCustomer(name=name_of(n), locale="en"))
        if not isinstance(reply, CommandAccepted):
            raise BenchFailed(f"CreateCustomer: {reply}")
        if n % every:
            return
        accepted = time.perf_counter()
        await client.ask(GetCustomer(customer_id=reply.id, min_version=reply.version))
        visible.samples.append(time.perf_counter() - accepted)

    return operation
