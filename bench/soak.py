"""`make soak`: the pair at half its measured command rate, with queries, for SOAK_MINUTES (30).

Starts both services as processes on a vhost and databases of their own (the local servers:
infra/provision.sh), seeds --customers customers (and --accounts accounts), measures its own mix of
commands at 64 in flight for --measure-seconds (or takes --rate), then runs an open loop for the
minutes at half that rate: commands (mostly CreateCustomer, with OpenAccount and Deposit: soak_load says the
mix), one in 4 read back with min_version for the lag, and GetCustomer queries at
--queries-per-command times the command rate. Every 10 s (less in a short run) it samples each
service's resident memory, the event queues' depth, the counts and the interval's lag; then judges
(soak_checks: memory, queue depth trend, lag, failures) and exits 1 if a check fails.

Prints a table (progress on stderr), or one JSON document with --json; always writes
bench-results/soak.json and bench-results/soak.png. Bounded: it stops by itself within the minutes
plus the seeding, the measure and a few minutes' slack, whatever hangs.
"""

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika

from bench import pair_ops, procs, soak_checks
from bench.soak_load import Mix, Probe, event_queues, watch
from bench.soak_report import document, plot, table
from bench.timing import Counter, closed_loop, open_loop, warm_up
from cqrs_client.client import CqrsClient
from tests.local_env import use_local_servers
from tests.own import own_resources, running
from tests.resources import Servers

RESULTS = Path("bench-results")
MEASURE_IN_FLIGHT = 64
DRAIN_S = 300.0
SLACK_S = 300.0  # beyond the load: starting and stopping the pair, the last operations' answers
CLIENT_TIMEOUT = 10.0


class SoakFailed(Exception):
    """A check failed: the pair does not hold its half rate steadily (the message names the checks)."""


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def measure(mix: Mix, seconds: float) -> float:
    """The soak's own commands (its mix, read-backs included) per second at MEASURE_IN_FLIGHT in
    flight, after 2 s of warm-up. The mix, not CreateCustomer alone: a deposit costs the pair about
    twice a create, and half of CreateCustomer's rate offered as the mix overloaded the pair (its
    query queue grew without end within a minute)."""
    operation, counter = mix.commands(), Counter()
    say(f"measuring the soak's commands at {MEASURE_IN_FLIGHT} in flight for {seconds:g} s")
    await warm_up(operation, MEASURE_IN_FLIGHT, 2.0, counter)
    timed = await closed_loop(operation, MEASURE_IN_FLIGHT, seconds, 4 * seconds, counter, least=1)
    mix.forget_counts()
    say(f"    {timed.per_s:,.0f} commands/s")
    return timed.per_s


async def soak(
    args: argparse.Namespace, mix: Mix, probe: Probe, rate: float
) -> tuple[list[soak_checks.Sample], dict[str, Any]]:
    """The open loops for the run's seconds, sampled; the samples and the loops' counts."""
    total = args.minutes * 60
    every = soak_checks.sample_every(total)
    queries = rate * args.queries_per_command
    say(
        f"soak: {rate:.1f} commands/s and {queries:.1f} queries/s for {total:g} s, a sample every {every:g} s"
    )
    samples = [await probe.sample(0.0, mix)]
    async with asyncio.TaskGroup() as group:
        group.create_task(watch(probe, mix, every, round(total / every), samples))
        commands = group.create_task(open_loop(mix.commands(), rate, total, total + 1, Counter(), least=0))
        if queries > 0:
            group.create_task(open_loop(mix.queries(), queries, total, total + 1, Counter(), least=0))
    latency = commands.result()
    elapsed = latency.elapsed
    load = {
        "commands": mix.done["commands"],
        "queries": mix.done["queries"],
        "commands_per_s": round(mix.done["commands"] / elapsed, 1),
        "queries_per_s": round(mix.done["queries"] / elapsed, 1),
        "accepted": dict(mix.accepted),
        "failures": dict(mix.failures),
        "command_p50_ms": round(latency.p50 * 1000, 2),
        "command_p99_ms": round(latency.percentile(99) * 1000, 2),
    }
    return samples, load


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """The pair of its own, seeded, measured and soaked; the document of the run (not yet judged)."""
    use_local_servers()
    servers = Servers(
        os.environ["CQRS_RABBITMQ_URL"], os.environ["CQRS_TEST_POSTGRES_DSN"], os.environ["CQRS_MONGODB_URL"]
    )
    with tempfile.TemporaryDirectory(prefix="cqrs-soak-") as logs:
        async with own_resources(servers) as own, running(own.env, Path(logs), clean_exit=True) as services:
            pids = {
                "command service": services.command.process.pid,
                "query service": services.query.process.pid,
            }
            partitions = int(own.env.get("CQRS_EVENT_PARTITIONS") or 1)
            async with (
                await aio_pika.connect(own.amqp_url, timeout=10) as connection,
                CqrsClient.connect(own.amqp_url, timeout=CLIENT_TIMEOUT) as client,
            ):
                probe = Probe(await connection.channel(), event_queues(partitions), pids)
                mix = Mix(client)
                say(f"seeding {args.customers:,} customers and {args.accounts:,} accounts")
                await mix.seed(args.customers, args.accounts)
                await probe.drained(DRAIN_S)
                await mix.settled()
                measured = None if args.rate else await measure(mix, args.measure_seconds)
                rate = args.rate or (measured or 0.0) / 2
                if rate < 1:
                    raise pair_ops.BenchFailed(f"the commands made {measured} /s: nothing to soak at half")
                await probe.drained(DRAIN_S)
                groups = [procs.Group(name, procs.pid_is(pid)) for name, pid in pids.items()]
                before = procs.cpu_seconds(groups)
                samples, load = await soak(args, mix, probe, rate)
                after = procs.cpu_seconds(groups)
    facts = {
        **_facts(args),
        "measured_commands_per_s": None if measured is None else round(measured, 1),
        "offered_commands_per_s": round(rate, 1),
        "offered_queries_per_s": round(rate * args.queries_per_command, 1),
        "sample_every_s": round(soak_checks.sample_every(args.minutes * 60), 2),
        "event_queues": partitions,
        "cpu_s": {name: round(after[name] - before[name], 1) for name in after},
    }
    checks = soak_checks.judge(samples, args.minutes * 60, rate, dict(load["failures"]))
    return document(facts, samples, checks, load)


def _facts(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}, uvloop",
        "minutes": args.minutes,
        "seconds": args.minutes * 60,
        "customers": args.customers,
        "accounts": args.accounts,
        "queries_per_command": args.queries_per_command,
    }


async def bounded(args: argparse.Namespace) -> dict[str, Any]:
    """The run, stopped whatever hangs after its minutes, seeding, measure, drains and SLACK_S."""
    limit = args.minutes * 60 + args.customers / 20 + args.measure_seconds * 5 + 2 * DRAIN_S + SLACK_S
    try:
        async with asyncio.timeout(limit):
            return await run(args)
    except TimeoutError:
        raise pair_ops.BenchFailed(f"gave up after {limit:.0f} s (the soak's hard limit)") from None


def minutes_default() -> float:
    text = os.environ.get("SOAK_MINUTES") or "30"
    try:
        return positive(text)
    except argparse.ArgumentTypeError as error:
        raise SystemExit(f"soak: SOAK_MINUTES: {error}") from None


def positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--minutes", type=positive, default=minutes_default(), help="of load (SOAK_MINUTES, 30)"
    )
    parser.add_argument("--rate", type=positive, help="commands/s offered, instead of half the measured rate")
    parser.add_argument(
        "--queries-per-command", type=float, default=0.5, help="query rate / command rate (0.5)"
    )
    parser.add_argument("--customers", type=int, default=2_000, help="customers seeded (2,000)")
    parser.add_argument("--accounts", type=int, default=200, help="accounts seeded, for deposits (200)")
    parser.add_argument("--measure-seconds", type=positive, default=10.0, help="of the rate's measure (10)")
    parser.add_argument("--out", type=Path, default=RESULTS / "soak.json")
    parser.add_argument("--plot", type=Path, default=RESULTS / "soak.png")
    parser.add_argument("--json", action="store_true", help="print the JSON document instead of the table")
    args = parser.parse_args()
    if not 1 <= args.accounts <= args.customers:
        parser.error("--accounts must be between 1 and --customers")
    if args.queries_per_command < 0:
        parser.error("--queries-per-command must not be negative")
    return args


def main() -> None:
    import uvloop

    args = arguments()
    began = time.monotonic()
    try:
        doc = uvloop.run(bounded(args))
    except pair_ops.BenchFailed as error:
        raise SystemExit(f"soak: {error}") from None
    doc["facts"]["took_s"] = round(time.monotonic() - began)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    plot(doc, args.plot)
    print(json.dumps(doc) if args.json else table(doc))
    say(f"wrote {args.out} and {args.plot} ({doc['facts']['took_s']} s)")
    try:
        passed(doc)
    except SoakFailed as error:
        raise SystemExit(f"soak: {error}") from None


def passed(doc: dict[str, Any]) -> None:
    """Raises SoakFailed naming every check that failed."""
    failed = [f"{check['name']} ({check['detail']})" for check in doc["checks"] if not check["passed"]]
    if failed:
        raise SoakFailed("failed: " + "; ".join(failed))


if __name__ == "__main__":
    main()
