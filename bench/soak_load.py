"""The soak's load and its watcher: the mix of commands and queries as open-loop operations, and the
probe that reads the services' memory and the event queues' depth.

Commands, by their number n modulo 10: 7 CreateCustomer, 1 OpenAccount (of a known customer),
2 Deposit (on an account opened here). One in 4 is read back with min_version (GetCustomer or
GetAccount), the time from the accepted reply to the answer being the lag: those whose
(n + n // 10) % 4 is 0, so that every kind is read back in turn. Queries: GetCustomer of a customer
known to be in the view (seeded, or read back), so that none is asked for before it can be there.
No operation raises for a failure of the pair: it is counted (Mix.failures), and judged.
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
from aio_pika.abc import AbstractChannel

from bench import procs
from bench.pair_ops import BenchFailed, name_of
from bench.soak_checks import Sample
from bench.timing import Operation
from cqrs_client.client import CqrsClient
from cqrs_client.errors import ClientError, RemoteError, RequestTimeout
from cqrs_client.messaging.topology import EVENT_QUEUE, event_partition
from cqrs_contracts import (
    CommandAccepted,
    CommandReply,
    CreateCustomer,
    Deposit,
    GetAccount,
    GetCustomer,
    OpenAccount,
)

READ_BACK_EVERY = 4
MAX_IN_FLIGHT = 1_000  # per loop: beyond it an operation is shed (counted), so the bench stays bounded
SEED_IN_FLIGHT = 64


class Failed(Exception):
    """An answer of the pair that is not the one a healthy pair gives: counted under its message
    (a kind, never an id, so that the tally stays small)."""


def event_queues(partitions: int) -> list[str]:
    """The query service's event queues for CQRS_EVENT_PARTITIONS=``partitions`` (query_service's
    EventQueues names them the same way)."""
    return [EVENT_QUEUE] if partitions == 1 else [event_partition(i) for i in range(partitions)]


@dataclass
class Mix:
    client: CqrsClient
    customers: list[UUID] = field(default_factory=list)  # accepted by the command side
    visible: list[UUID] = field(default_factory=list)  # seen in the view: the ones queries ask for
    accounts: list[UUID] = field(default_factory=list)
    done: Tally[str] = field(default_factory=Tally)  # completed, by loop: commands, queries
    accepted: Tally[str] = field(default_factory=Tally)  # commands accepted, by type
    failures: Tally[str] = field(default_factory=Tally)  # by kind: failed, timed out, shed
    lags_ms: list[float] = field(default_factory=list)  # since the probe last took them
    in_flight: Tally[str] = field(default_factory=Tally)

    def forget_counts(self) -> None:
        """Start the counts again (after the measure of the rate)."""
        self.done, self.accepted, self.failures, self.lags_ms = Tally(), Tally(), Tally(), []

    def commands(self) -> Operation:
        return self._bounded("commands", self._command)

    def queries(self) -> Operation:
        return self._bounded("queries", self._query)

    def _bounded(self, loop: str, work: Operation) -> Operation:
        """``work`` counted: completed, failed by kind, or shed when MAX_IN_FLIGHT are in flight."""

        async def operation(n: int) -> None:
            if self.in_flight[loop] >= MAX_IN_FLIGHT:
                self.failures[f"{loop} shed"] += 1
                return
            self.in_flight[loop] += 1
            try:
                await work(n)
                self.done[loop] += 1
            except Failed as failure:
                self.failures[str(failure)] += 1
            except RequestTimeout:
                self.failures[f"{loop} timed out"] += 1
            except ClientError as error:
                code = error.info.code.value if isinstance(error, RemoteError) else type(error).__name__
                self.failures[f"{loop} failed ({code})"] += 1
            finally:
                self.in_flight[loop] -= 1

        return operation

    async def _command(self, n: int) -> None:
        kind = n % 10
        if kind < 7:
            reply = await self.client.send(CreateCustomer(name=name_of(n), locale="en"))
        elif kind == 7:
            reply = await self.client.send(OpenAccount(customer_id=random.choice(self.customers)))
        else:
            account = random.choice(self.accounts)
            reply = await self.client.send(Deposit(account_id=account, amount=Decimal("1.00")))
        accepted = _accepted(reply, kind)
        self.accepted[type_name(kind)] += 1
        if kind < 7:
            self.customers.append(accepted.id)
        elif kind == 7:
            self.accounts.append(accepted.id)
        if (n + n // 10) % READ_BACK_EVERY == 0:
            await self._read_back(accepted, kind)

    async def _read_back(self, reply: CommandAccepted, kind: int) -> None:
        began = time.perf_counter()
        if kind < 7:
            view_id = (await self.client.ask(GetCustomer(customer_id=reply.id, min_version=reply.version))).id
        else:
            view_id = (await self.client.ask(GetAccount(account_id=reply.id, min_version=reply.version))).id
        if view_id != reply.id:
            raise Failed("read back another view than the one written")
        if kind < 7:
            self.visible.append(view_id)
        self.lags_ms.append((time.perf_counter() - began) * 1000)

    async def _query(self, n: int) -> None:
        wanted = random.choice(self.visible)
        view = await self.client.ask(GetCustomer(customer_id=wanted))
        if view.id != wanted:
            raise Failed("GetCustomer answered with another customer")

    async def seed(self, customers: int, accounts: int) -> None:
        """``customers`` customers, then an account for each of the first ``accounts``."""
        numbers = iter(range(customers))
        owners = iter(range(accounts))

        async def creator() -> None:
            for n in numbers:
                self.customers.append(
                    _id(await self.client.send(CreateCustomer(name=name_of(n), locale="en")))
                )
            for n in owners:
                self.accounts.append(_id(await self.client.send(OpenAccount(customer_id=self.customers[n]))))

        await asyncio.gather(*(creator() for _ in range(SEED_IN_FLIGHT)))

    async def settled(self) -> None:
        """Every seeded customer is in the view, once the event queues are empty: the projector may
        still hold the last prefetched events, so the last ones created are read with min_version."""
        for customer in self.customers[-2 * SEED_IN_FLIGHT :]:
            await self.client.ask(GetCustomer(customer_id=customer, min_version=1))
        self.visible = list(self.customers)


def type_name(kind: int) -> str:
    return "CreateCustomer" if kind < 7 else "OpenAccount" if kind == 7 else "Deposit"


def _accepted(reply: CommandReply, kind: int) -> CommandAccepted:
    if not isinstance(reply, CommandAccepted):
        raise Failed(f"{type_name(kind)} rejected ({reply.error.code.value})")
    return reply


def _id(reply: CommandReply) -> UUID:
    if not isinstance(reply, CommandAccepted):
        raise BenchFailed(f"seeding: {reply}")
    return reply.id


@dataclass
class Probe:
    """Reads the services' resident memory (pids by name) and the event queues' depth."""

    channel: AbstractChannel
    queues: list[str]
    services: dict[str, int]

    async def depth(self) -> int:
        """Messages ready in the event queues, summed (a passive declare each: it creates nothing)."""
        total = 0
        for name in self.queues:
            try:
                queue = await self.channel.declare_queue(name, passive=True)
            except aio_pika.exceptions.AMQPError as error:
                raise BenchFailed(f"cannot read the depth of queue {name}: {error}") from None
            total += queue.declaration_result.message_count or 0
        return total

    async def sample(self, t: float, mix: Mix) -> Sample:
        lags, mix.lags_ms = mix.lags_ms, []
        return Sample(
            t=round(t, 2),
            rss_mb={name: round(procs.rss_mb(pid), 1) for name, pid in self.services.items()},
            depth=await self.depth(),
            commands=mix.done["commands"],
            queries=mix.done["queries"],
            failures=sum(mix.failures.values()),
            lag_ms=lags,
        )

    async def drained(self, timeout: float) -> None:
        """Until no event waits in the queues, for at most ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while await self.depth():
            if time.monotonic() > deadline:
                raise BenchFailed(f"the event queues did not drain within {timeout:g} s")
            await asyncio.sleep(0.5)


async def watch(probe: Probe, mix: Mix, every: float, count: int, samples: list[Sample]) -> None:
    """``count`` samples, one every ``every`` seconds from now, each also as a line on stderr."""
    began = time.monotonic()
    for k in range(1, count + 1):
        await asyncio.sleep(max(0.0, began + k * every - time.monotonic()))
        samples.append(await probe.sample(time.monotonic() - began, mix))
        print(progress(samples[-2], samples[-1]), file=sys.stderr, flush=True)


def progress(before: Sample, now: Sample) -> str:
    seconds = max(1e-9, now.t - before.t)
    lags = sorted(now.lag_ms)
    p99 = f"{lags[min(len(lags) - 1, len(lags) * 99 // 100)]:.0f}" if lags else "-"
    memory = ", ".join(f"{name} {mb:.0f} MB" for name, mb in now.rss_mb.items())
    return (
        f"    {now.t:7.1f} s: commands {(now.commands - before.commands) / seconds:.0f}/s, queries "
        f"{(now.queries - before.queries) / seconds:.0f}/s, depth {now.depth}, lag p99 {p99} ms, "
        f"{memory}, failures {now.failures}"
    )
