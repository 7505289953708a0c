"""`make bench-keepup`: does the projector keep up with the command side at the command side's full rate?

For --duration seconds (default 60), --concurrency clients (default 32) loop without pause through
CreateCustomer, OpenAccount, --deposits Deposits and one EditCustomerDetails: each accepted command
commits exactly one event. Every second the event queue's depth is read (a passive declare: messages
ready, not those prefetched by the projector) beside the services' /metrics; after the load the queue
is watched until every committed event is applied, for at most --drain seconds. Projection lag
(commit to applied) p50/p99 are estimated from the query service's `cqrs_projection_lag_seconds`
buckets read before and after, as Prometheus' histogram_quantile does.

Needs both services running (`make run` in another terminal); stops by itself within duration + drain
+ a minute. Progress on stderr every 5 s; a table on stdout, or one JSON document with --json; the
same document in bench-results/keepup.json.
"""

import argparse
import asyncio
import itertools
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Coroutine
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import aiohttp
from aio_pika.abc import AbstractConnection, AbstractQueue
from aio_pika.exceptions import AMQPError
from prometheus_client.parser import text_string_to_metric_families

from command_service.settings import CommandSettings
from cqrs_client.client import CqrsClient
from cqrs_client.errors import RequestTimeout
from cqrs_client.messaging.topology import EVENT_QUEUE
from cqrs_contracts import (
    Command,
    CommandAccepted,
    CreateCustomer,
    Deposit,
    EditCustomerDetails,
    OpenAccount,
)
from cqrs_shared.runtime.entry import WILDCARD_HOSTS
from cqrs_shared.runtime.settings import load
from query_service.settings import QuerySettings
from tests.local_env import use_local_servers
from tests.scrape import exposition

RESULTS = Path("bench-results/keepup.json")
LAG = "cqrs_projection_lag_seconds"
PUBLISH = "cqrs_commit_to_publish_seconds"
OUTBOX = "cqrs_outbox_backlog_events"
SAMPLE_EVERY = 1.0
PROGRESS_EVERY = 5
# Bounded: over the load's last WINDOW seconds the queue held on average at most BOUNDED_SECONDS of
# events, and it drained. An average, because the relay publishes in batches of up to 200 events: the
# depth is a sawtooth, and one reading at the end of a 60 s run (414, drained 2 s later) said "not
# bounded" of a queue with no trend at all.
BOUNDED_SECONDS = 2.0
WINDOW = 10.0
COMMAND_TIMEOUT = 10.0
SLACK = 60.0  # the hard limit is duration + drain + this


class BenchFailed(Exception):
    """No figures: the pair is not running or not ready (the bench starts none), or the run hung."""


@dataclass(frozen=True)
class Histogram:
    """Cumulative bucket counts of one Prometheus histogram, +Inf last."""

    bounds: tuple[float, ...]
    counts: tuple[float, ...]

    @property
    def count(self) -> float:
        return self.counts[-1]

    def minus(self, earlier: "Histogram") -> "Histogram":
        """What was observed since ``earlier``; all of this one if the service restarted in between."""
        if self.count < earlier.count:
            return self
        return Histogram(self.bounds, tuple(a - b for a, b in zip(self.counts, earlier.counts, strict=True)))

    def quantile(self, q: float) -> float | None:
        """Linear interpolation inside the bucket holding rank q; the last finite bound beyond it."""
        if self.count <= 0:
            return None
        rank, lower, below = q * self.count, 0.0, 0.0
        for bound, cumulative in zip(self.bounds, self.counts, strict=True):
            if cumulative >= rank:
                if math.isinf(bound):
                    return lower
                return lower + (bound - lower) * (rank - below) / (cumulative - below)
            lower, below = bound, cumulative
        return lower


def histogram(exposition: str, name: str) -> Histogram:
    for family in text_string_to_metric_families(exposition):
        if family.name == name and family.type == "histogram":
            buckets = sorted(
                (float(s.labels["le"]), s.value) for s in family.samples if s.name == f"{name}_bucket"
            )
            return Histogram(tuple(b for b, _ in buckets), tuple(c for _, c in buckets))
    raise BenchFailed(f"expected histogram {name} in /metrics; it is not there")


def gauge(exposition: str, name: str) -> float:
    for family in text_string_to_metric_families(exposition):
        if family.name == name:
            return float(family.samples[0].value)
    raise BenchFailed(f"expected gauge {name} in /metrics; it is not there")


def base_url(host: str, port: int) -> str:
    return f"http://{'127.0.0.1' if host in WILDCARD_HOSTS else host}:{port}"


@dataclass(frozen=True)
class Sample:
    """One second of the run: commands accepted so far, queue depth, and the services' counters."""

    t: float
    accepted: int
    depth: int
    applied: float
    published: float
    outbox: float


@dataclass(frozen=True)
class Probe:
    """Reads the event queue's depth and both services' /metrics."""

    http: aiohttp.ClientSession
    events: AbstractQueue
    command_url: str
    query_url: str

    async def metrics(self, url: str) -> str:
        try:
            return await exposition(url, self.http)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise BenchFailed(f"{url}/metrics: {error or type(error).__name__}") from None

    async def lag(self) -> Histogram:
        return histogram(await self.metrics(self.query_url), LAG)

    async def published(self) -> Histogram:
        return histogram(await self.metrics(self.command_url), PUBLISH)

    async def depth(self) -> int:
        declared = await self.events.declare()
        return declared.message_count or 0

    async def sample(self, t: float, accepted: int) -> Sample:
        query, command = await self.metrics(self.query_url), await self.metrics(self.command_url)
        return Sample(
            t=round(t, 2),
            accepted=accepted,
            depth=await self.depth(),
            applied=histogram(query, LAG).count,
            published=histogram(command, PUBLISH).count,
            outbox=gauge(command, OUTBOX),
        )


async def ready(http: aiohttp.ClientSession, url: str) -> None:
    """Fail with what to do when a service does not answer /readyz with ready."""
    try:
        async with http.get(f"{url}/readyz") as reply:
            body = await reply.text()
            if reply.status != 200:
                raise BenchFailed(f"{url}/readyz says not ready ({reply.status}): {body}")
    except (aiohttp.ClientError, TimeoutError) as error:
        raise BenchFailed(
            f"needs the pair running (`make run` in another terminal); "
            f"no answer from {url}/readyz: {error or type(error).__name__}"
        ) from None


@dataclass
class Tally:
    accepted: Counter[str] = field(default_factory=Counter)
    rejected: int = 0
    timed_out: int = 0

    @property
    def total(self) -> int:
        return sum(self.accepted.values())


async def send(client: CqrsClient, command: Command, tally: Tally) -> CommandAccepted | None:
    """Send one command and count its fate; None when it did not commit (or may not have)."""
    try:
        reply = await client.send(command)
    except RequestTimeout:
        tally.timed_out += 1
        return None
    if not isinstance(reply, CommandAccepted):
        tally.rejected += 1
        return None
    tally.accepted[type(command).__name__] += 1
    return reply


async def customer_cycle(client: CqrsClient, name: str, deposits: int, deadline: float, tally: Tally) -> None:
    """One customer's life: created, an account opened, deposits, details edited; cut at the deadline."""
    customer = await send(client, CreateCustomer(name=name, locale="en"), tally)
    if customer is None or time.monotonic() >= deadline:
        return
    account = await send(client, OpenAccount(customer_id=customer.id), tally)
    for _ in range(deposits):
        if account is None or time.monotonic() >= deadline:
            return
        await send(client, Deposit(account_id=account.id, amount="1.00"), tally)
    if time.monotonic() < deadline:
        await send(client, EditCustomerDetails(customer_id=customer.id, name=f"{name} edited"), tally)


async def drive(client: CqrsClient, concurrency: int, deposits: int, duration: float, tally: Tally) -> None:
    deadline = time.monotonic() + duration

    async def worker(w: int) -> None:
        n = 0
        while time.monotonic() < deadline:
            await customer_cycle(client, f"Keepup {w} {n}", deposits, deadline, tally)
            n += 1

    async with asyncio.TaskGroup() as group:
        for w in range(concurrency):
            group.create_task(worker(w))


def progress(phase: str, sample: Sample, first: Sample) -> None:
    print(
        f"[{sample.t:6.1f} s] {phase}: {sample.accepted} commands accepted, "
        f"{sample.applied - first.applied:g} events applied, queue depth {sample.depth}, "
        f"outbox {sample.outbox:g}",
        file=sys.stderr,
        flush=True,
    )


def caught_up(sample: Sample, first: Sample, committed: int) -> bool:
    """Nothing waits in the queue or the outbox, and as many events were applied as committed."""
    return sample.depth == 0 and sample.outbox == 0 and sample.applied - first.applied >= committed


async def tick(start: float, n: int) -> None:
    """Sleep until the n-th sampling time after ``start``; a slow sample does not shift the next ones."""
    await asyncio.sleep(max(0.0, start + n * SAMPLE_EVERY - time.monotonic()))


async def watch(probe: Probe, began: float, tally: Tally, samples: list[Sample]) -> None:
    """Sample every second until cancelled; a progress line every few samples."""
    for n in itertools.count(1):
        await tick(began, n)
        samples.append(await probe.sample(time.monotonic() - began, tally.total))
        if n % PROGRESS_EVERY == 0:
            progress("load", samples[-1], samples[0])


async def drain(probe: Probe, began: float, tally: Tally, first: Sample, limit: float) -> list[Sample]:
    """Sample until every accepted event is applied, or for ``limit`` seconds."""
    samples: list[Sample] = []
    start = time.monotonic()
    for n in itertools.count(1):
        samples.append(await probe.sample(time.monotonic() - began, tally.total))
        if caught_up(samples[-1], first, tally.total) or time.monotonic() - start >= limit:
            break
        if n % PROGRESS_EVERY == 0:
            progress("drain", samples[-1], first)
        await tick(start, n)
    return samples


def rate(count: float, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def summarise(
    args: argparse.Namespace,
    tally: Tally,
    load_seconds: float,
    samples: list[Sample],
    tail: list[Sample],
    lag: tuple[Histogram, Histogram, Histogram],
    publish: tuple[Histogram, Histogram],
) -> dict[str, Any]:
    """The figures of one run, from the samples and the histograms before, at load end, after drain."""
    first, at_end, last = samples[0], tail[0], tail[-1]
    applied_load = lag[1].minus(lag[0]).count
    applied_all = lag[2].minus(lag[0])
    drained_at = next((s.t for s in tail if s.depth == 0), None)
    done = caught_up(last, first, tally.total)
    committed_per_s = rate(tally.total, load_seconds)
    bound = max(1.0, BOUNDED_SECONDS * committed_per_s)
    recent = [s.depth for s in [*samples, at_end] if s.t >= at_end.t - WINDOW]
    recent_mean = sum(recent) / len(recent)
    published = publish[1].minus(publish[0])
    return {
        "duration_s": round(load_seconds, 1),
        "concurrency": args.concurrency,
        "deposits_per_customer": args.deposits,
        "commands_accepted": tally.total,
        "commands_by_kind": dict(tally.accepted),
        "commands_rejected": tally.rejected,
        "commands_timed_out": tally.timed_out,
        "commands_accepted_per_s": committed_per_s,
        "events_committed_per_s": committed_per_s,
        "events_published_per_s": rate(published.count, last.t - first.t),
        "events_applied_per_s_load": rate(applied_load, load_seconds),
        "events_applied_per_s_overall": rate(applied_all.count, last.t),
        "events_applied": applied_all.count,
        "queue_depth_start": first.depth,
        "queue_depth_max": max(s.depth for s in samples + tail),
        "queue_depth_end_of_load": at_end.depth,
        "outbox_max": max(s.outbox for s in samples + tail),
        "drain_to_zero_s": None if drained_at is None else round(max(0.0, drained_at - at_end.t), 1),
        "caught_up_s": round(last.t - at_end.t, 1) if done else None,
        "lag_p50_ms": ms(applied_all.quantile(0.5)),
        "lag_p99_ms": ms(applied_all.quantile(0.99)),
        "commit_to_publish_p50_ms": ms(published.quantile(0.5)),
        "commit_to_publish_p99_ms": ms(published.quantile(0.99)),
        "bench_cpu_s": round(time.process_time(), 1),
        "queue_depth_mean_recent": round(recent_mean, 1),
        "queue_bound": round(bound),
        "bounded": recent_mean <= bound and done,
        "timeline": [asdict(s) for s in samples + tail],
    }


async def measure(probe: Probe, client: CqrsClient, args: argparse.Namespace) -> dict[str, Any]:
    """Histograms and a sample before, the load watched every second, histograms again, the drain."""
    began, tally = time.monotonic(), Tally()
    samples = [await probe.sample(0.0, 0)]
    lag0 = await probe.lag()
    publish0 = await probe.published()
    print(f"load: {args.duration:g} s, {args.concurrency} clients", file=sys.stderr, flush=True)
    watcher = asyncio.create_task(watch(probe, began, tally, samples))
    load_began = time.monotonic()
    await drive(client, args.concurrency, args.deposits, args.duration, tally)
    load_seconds = time.monotonic() - load_began
    watcher.cancel()
    with suppress(asyncio.CancelledError):
        await watcher
    lag1 = await probe.lag()
    tail = await drain(probe, began, tally, samples[0], args.drain)
    lag2, publish1 = (
        await probe.lag(),
        await probe.published(),
    )
    return summarise(args, tally, load_seconds, samples, tail, (lag0, lag1, lag2), (publish0, publish1))


async def event_queue(connection: AbstractConnection) -> AbstractQueue:
    """The query service's event queue, declared passively: its depth, and an error if it is missing."""
    channel = await connection.channel()
    try:
        return await channel.declare_queue(EVENT_QUEUE, passive=True)
    except AMQPError as error:
        raise BenchFailed(f"no queue {EVENT_QUEUE}; is the query service up? {error}") from None


async def run(args: argparse.Namespace) -> dict[str, Any]:
    query, command = load(QuerySettings), load(CommandSettings)
    query_url = base_url(query.http_host, query.query_http_port)
    command_url = base_url(command.http_host, command.command_http_port)
    url = str(query.rabbitmq_url)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        await ready(http, command_url)
        await ready(http, query_url)
        try:
            connection = await aio_pika.connect(url, timeout=10)
        except (OSError, AMQPError, TimeoutError) as error:
            raise BenchFailed(f"cannot reach RabbitMQ: {error or type(error).__name__}") from None
        async with connection, CqrsClient.connect(url, timeout=COMMAND_TIMEOUT) as client:
            probe = Probe(http, await event_queue(connection), command_url, query_url)
            return await measure(probe, client, args)


async def bounded(work: Coroutine[Any, Any, dict[str, Any]], limit: float) -> dict[str, Any]:
    """The hard limit on the whole run, whatever hangs."""
    try:
        async with asyncio.timeout(limit):
            return await work
    except TimeoutError:
        raise BenchFailed(
            f"gave up after {limit:g} s (the hard limit: duration + drain + {SLACK:g} s)"
        ) from None


def table(result: dict[str, Any]) -> str:
    depths = "{queue_depth_start} / {queue_depth_max} / {queue_depth_end_of_load}".format(**result)
    publish = "{commit_to_publish_p50_ms} / {commit_to_publish_p99_ms}".format(**result)
    rows = [
        ("load", f"{result['duration_s']} s, {result['concurrency']} clients"),
        ("commands accepted", f"{result['commands_accepted']} {result['commands_by_kind']}"),
        ("commands rejected / timed out", f"{result['commands_rejected']} / {result['commands_timed_out']}"),
        ("commands accepted/s = events committed/s", result["commands_accepted_per_s"]),
        ("events published/s (relay, whole run)", result["events_published_per_s"]),
        ("events applied/s during load", result["events_applied_per_s_load"]),
        ("events applied/s overall incl. drain", result["events_applied_per_s_overall"]),
        ("queue depth start / max / end of load", depths),
        (f"queue depth mean over the load's last {WINDOW:g} s", result["queue_depth_mean_recent"]),
        ("outbox backlog max", result["outbox_max"]),
        ("queue drained to 0 after the load (s)", result["drain_to_zero_s"]),
        ("every event applied after the load (s)", result["caught_up_s"]),
        ("projection lag p50 / p99 (ms)", f"{result['lag_p50_ms']} / {result['lag_p99_ms']}"),
        ("commit-to-publish p50 / p99 (ms)", publish),
        ("bench process CPU (s)", result["bench_cpu_s"]),
    ]
    lines = [f"{name:<44} {value}" for name, value in rows]
    return "\n".join([*lines, *verdict(result)])


def verdict(result: dict[str, Any]) -> list[str]:
    """Bounded or not, in words, and which part of the lag is the relay's."""
    held = (
        f"over the load's last {WINDOW:g} s the queue held {result['queue_depth_mean_recent']:g} events "
        f"on average (limit: {BOUNDED_SECONDS:g} s of events, {result['queue_bound']})"
    )
    drained = (
        f"drained in {result['caught_up_s']} s" if result["caught_up_s"] is not None else "did not drain"
    )
    verdict = (
        "BOUNDED: the projector keeps up" if result["bounded"] else "NOT BOUNDED: the projector falls behind"
    )
    lines = [f"{verdict}: {held}, and it {drained}"]
    if result["lag_p50_ms"] is not None and result["commit_to_publish_p50_ms"] is not None:
        rest = result["lag_p50_ms"] - result["commit_to_publish_p50_ms"]
        lines.append(
            f"of the lag's p50, {result['commit_to_publish_p50_ms']} ms is commit to publish (the outbox "
            f"relay); publish to applied (queue and projector) is about {rest:.0f} ms"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--concurrency", type=int, default=32, help="clients sending commands")
    parser.add_argument("--deposits", type=int, default=4, help="deposits per customer's account")
    parser.add_argument("--drain", type=float, default=120.0, help="longest wait for the queue to drain")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    use_local_servers()
    try:
        result = asyncio.run(bounded(run(args), args.duration + args.drain + SLACK))
    except BenchFailed as error:
        raise SystemExit(f"bench-keepup: {error}") from None
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result) if args.json else table(result))


if __name__ == "__main__":
    main()
