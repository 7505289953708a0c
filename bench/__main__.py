"""`make bench`: the pair beside the transport ceiling and its Python peers, measured in one run.

Starts both services as processes on a vhost and databases of their own (on the local servers:
infra/provision.sh), seeds --customers customers through the command side, then measures, each
at 1, 16 and 64 in flight after a warm-up, for --seconds each (and at least 1,000 samples):

  1. the ceiling: an echo over aio-pika written by hand (bench/echo.py);
  2. the peers: the same echo with aio-pika's JsonRPC and with FastStream's request/reply;
  3. queries: GetCustomer by id, GetCustomersWithName;
  4. commands: CreateCustomer, and Deposit on 10 hot accounts (no lost update, checked);
  5. projection lag: CreateCustomer accepted -> visible to GetCustomer(min_version), at half the
     CreateCustomer rate measured at 64 in flight (an open loop);
  6. CPU seconds per 1,000 operations of each process, and the services' memory at the end.

Prints a table (progress on stderr); writes bench-results/bench.json and bench-results/bench.png.
Bounded: every loop stops by itself (--seconds, a cap of 4x that), the whole run in a few minutes.
"""

import argparse
import asyncio
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter as Tally
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import echo, pair_ops, procs, profile
from bench.report import CEILING, Figure, Run, plot, table
from bench.timing import MIN_SAMPLES, Counter, Operation, Timed, closed_loop, open_loop, warm_up
from cqrs_client.client import CqrsClient
from cqrs_contracts import GetCustomer
from tests.local_env import use_local_servers
from tests.own import own_resources, running
from tests.resources import Servers

ECHOES = {
    "raw": CEILING,
    "jsonrpc": "echo, aio-pika patterns.JsonRPC",
    "faststream": "echo, FastStream request/reply",
}
RESULTS = Path("bench-results")
SCENARIOS = ("echo", "queries", "commands", "lag")
LAG_PROBE_EVERY = 4


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class Bench:
    def __init__(
        self, args: argparse.Namespace, run: Run, groups: list[procs.Group], services: dict[str, int]
    ) -> None:
        self.args = args
        self.run = run
        self.groups = groups
        self.services = services  # name -> pid, profiled with --profile
        self.query_url = ""  # where the query service's /metrics answers
        self.command_url = ""  # and the command service's
        self.admin_url = ""  # the broker, as a user that may look at queues
        self.counter = Counter()

    async def measure(
        self, scenario: str, operation: Operation, in_flight: int, extra: list[procs.Group]
    ) -> Figure:
        seconds = self.args.seconds
        say(f"... {scenario}, {in_flight} in flight")
        if not extra:
            # What the figure before left (events still to project) is not this figure's CPU.
            await pair_ops.drained(self.admin_url)
            await asyncio.sleep(1.0)  # and those the projector holds, in hand
        await warm_up(operation, in_flight, self.args.warmup, self.counter)
        groups = self.groups + extra
        gc_before = await pair_ops.gc_seconds(self.service_urls()) if not extra else {}
        before = procs.cpu_seconds(groups)
        spies = self._profile(scenario, in_flight, extra)
        timed = await closed_loop(
            operation, in_flight, seconds, 4 * seconds, self.counter, self.args.min_samples
        )
        if not extra:
            # The figure's CPU includes projecting the events its operations made, however far
            # behind the projector is when the load stops.
            await pair_ops.drained(self.admin_url)
            await asyncio.sleep(1.0)
        after = procs.cpu_seconds(groups)
        await self._summarise(await spies)
        figure = self.run.add(Figure.of(scenario, in_flight, timed, _spent(before, after)))
        if not extra:
            gc_after = await pair_ops.gc_seconds(self.service_urls())
            figure.note = pair_ops.gc_note(gc_before, gc_after, figure.n)
        say(f"    {figure.per_s:,.0f} ops/s, p50 {figure.p50_ms} ms, p99 {figure.p99_ms} ms")
        return figure

    def service_urls(self) -> dict[str, str]:
        """Where each of the pair's services answers /metrics."""
        return {"command": self.command_url, "query": self.query_url}

    def _profile(
        self, scenario: str, in_flight: int, extra: list[procs.Group]
    ) -> "asyncio.Future[list[Path]]":
        """py-spy on each service while the pair's figure at the top in-flight count is measured."""
        folder: Path | None = self.args.profile
        if folder is None or extra or in_flight != max(self.args.in_flight):
            return asyncio.ensure_future(asyncio.sleep(0, []))
        folder.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^a-z0-9]+", "-", scenario.lower()).strip("-")
        outs = [folder / f"{name}.{service.replace(' ', '-')}.txt" for service in self.services]
        spies = [
            profile.record(pid, self.args.seconds, out)
            for pid, out in zip(self.services.values(), outs, strict=True)
        ]
        return asyncio.ensure_future(_all(spies, outs))

    @staticmethod
    async def _summarise(outs: list[Path]) -> None:
        for out in outs:
            if out.exists():
                out.with_suffix(".summary.txt").write_text(profile.summary(out))

    async def echoes(self, url: str, request: bytes, reply_bytes: int) -> None:
        for kind, scenario in ECHOES.items():
            async with echo_server(kind, url, reply_bytes) as server, echo.echo_client(kind, url) as call:

                async def operation(n: int) -> None:
                    await call(request)

                for level in self.args.in_flight:
                    await self.measure(
                        scenario, operation, level, [procs.Group("echo server", procs.pid_is(server))]
                    )


@asynccontextmanager
async def echo_server(kind: str, url: str, reply_bytes: int) -> AsyncIterator[int]:
    """The echo ``kind`` as a process, ready; its pid. Stopped on leaving."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.echo", kind, url, str(reply_bytes), stdout=subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(30):
            while (line := await process.stdout.readline()).strip() != b"ready":
                if not line:
                    raise pair_ops.BenchFailed(f"the {kind} echo server did not start")
        yield process.pid
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)


async def _all(spies: list[Coroutine[Any, Any, None]], outs: list[Path]) -> list[Path]:
    await asyncio.gather(*spies)
    return outs


def _spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: after[name] - before.get(name, 0.0) for name in after}


async def main(args: argparse.Namespace) -> Run:
    use_local_servers()
    servers = Servers(
        os.environ["CQRS_RABBITMQ_URL"], os.environ["CQRS_TEST_POSTGRES_DSN"], os.environ["CQRS_MONGODB_URL"]
    )
    run = Run(facts=_facts(args))
    with tempfile.TemporaryDirectory(prefix="cqrs-bench-") as logs:
        async with (
            own_resources(servers) as own,
            running(_env(own.env, args), Path(logs), clean_exit=True) as services,
        ):
            command, query = services.command, services.query
            groups = [
                procs.Group("benchmark", procs.pid_is(os.getpid())),
                procs.Group("command service", procs.pid_is(command.process.pid)),
                procs.Group("query service", procs.pid_is(query.process.pid)),
                *procs.servers(),
            ]
            pids = {
                "command service": command.process.pid,
                "query service": query.process.pid,
                "benchmark": os.getpid(),  # the client: CqrsClient and the load loop
            }
            bench = Bench(args, run, groups, pids)
            bench.query_url, bench.command_url = query.url, command.url
            bench.admin_url = own.amqp_url
            async with CqrsClient.connect(own.amqp_url, timeout=30) as client:
                say(f"seeding {args.customers:,} customers through the command side")
                seeded = await pair_ops.seed(client, own.amqp_url, args.customers)
                assert seeded.view is not None
                request = GetCustomer(customer_id=seeded.customers[0]).model_dump_json().encode()
                reply_bytes = pair_ops.reply_bytes(seeded.view)
                run.facts.update(request_bytes=len(request), reply_bytes=reply_bytes)
                if "echo" in args.only:
                    await bench.echoes(own.amqp_url, request, reply_bytes)
                await _pair(bench, client, seeded)
            run.memory_mb = {
                "command service": round(procs.rss_mb(command.process.pid), 1),
                "query service": round(procs.rss_mb(query.process.pid), 1),
            }
    return run


async def _pair(bench: Bench, client: CqrsClient, seeded: pair_ops.Seeded) -> None:
    levels, only = bench.args.in_flight, bench.args.only
    for level in levels if "queries" in only else []:
        before = await pair_ops.view_reads(bench.query_url)
        figure = await bench.measure("GetCustomer by id", pair_ops.get_customer(client, seeded), level, [])
        hits = pair_ops.hit_note(before, await pair_ops.view_reads(bench.query_url))
        figure.note = f"{hits}; {figure.note}"
    for level in levels if "queries" in only else []:
        await bench.measure("GetCustomersWithName", pair_ops.find_by_name(client, seeded), level, [])
    creates = {}
    for level in levels if "commands" in only else []:
        creates[level] = await bench.measure("CreateCustomer", pair_ops.create_customer(client), level, [])
    lost = 0
    single = [seeded.single] if seeded.single is not None else []
    for accounts in (seeded.accounts, single) if "commands" in only else ():
        hot = pair_ops.HotDeposits(client, accounts)
        for level in levels:
            await _deposits(bench, hot, level)
        lost += await hot.lost_updates(bench.admin_url)
    bench.run.facts["lost_updates"] = lost
    if lost:
        raise pair_ops.BenchFailed(f"{lost} accepted deposits are missing from the balances")
    if "lag" in only:
        rate = creates[max(levels)].per_s / 2 if creates else bench.args.lag_rate
        await _lag(bench, client, rate)


async def _deposits(bench: Bench, hot: pair_ops.HotDeposits, level: int) -> None:
    """Deposits spread over ``hot``'s accounts, with how much of their writes went together."""
    projected = await pair_ops.projected(bench.query_url)
    committed = await pair_ops.committed(bench.command_url)
    count = len(hot.accounts)
    scenario = f"Deposit on {count} hot account{'s' if count > 1 else ''}"
    figure = await bench.measure(scenario, hot.operation, level, [])
    notes = (
        ", ".join(f"{code} {n}" for code, n in hot.rejected.items()),
        pair_ops.together_note(committed, await pair_ops.committed(bench.command_url)),
        pair_ops.batch_note(projected, await pair_ops.projected(bench.query_url)),
        figure.note,
    )
    figure.note = "; ".join(note for note in notes if note)


async def _lag(bench: Bench, client: CqrsClient, rate: float) -> None:
    every = LAG_PROBE_EVERY
    say(f"... lag: CreateCustomer at {rate:.0f}/s (half the rate measured), one in {every} then read")
    visible = Timed()
    operation = pair_ops.accepted_to_visible(client, visible, every)
    await warm_up(operation, 1, bench.args.warmup, bench.counter)
    visible.samples.clear()
    stages_before, pauses_before = await _lag_stages(bench), await _gc_pauses(bench)
    before = procs.cpu_seconds(bench.groups)
    sent = await open_loop(
        operation, rate, bench.args.seconds, 120, bench.counter, least=every * bench.args.min_samples
    )
    after = procs.cpu_seconds(bench.groups)
    stages = {name: counts - stages_before[name] for name, counts in (await _lag_stages(bench)).items()}
    pauses = {name: counts - pauses_before[name] for name, counts in (await _gc_pauses(bench)).items()}
    visible.elapsed = sent.elapsed
    figure = Figure.of(f"lag, accepted -> visible, {rate:.0f}/s", 0, visible, _spent(before, after))
    # Per command: the load is the commands; 1 in ``every`` of them was also read.
    figure.per_s = round(sent.per_s, 1)
    figure.cpu_s_per_1000 = {
        k: round(v * len(visible.samples) / len(sent.samples), 3) for k, v in figure.cpu_s_per_1000.items()
    }
    parts = "; ".join(f"commit -> {name} {pair_ops.quantiles(n)}" for name, n in stages.items())
    gc = "; ".join(f"{name} {n['+Inf']}, longest {pair_ops.bound_ms(n, 1.0)}" for name, n in pauses.items())
    figure.note = f"commands/s; 1 in {every} read back; of every event: {parts}; gc pauses: {gc}"
    bench.run.add(figure)
    say(f"    p50 {figure.p50_ms} ms, p99 {figure.p99_ms} ms over {figure.n} reads; {parts}; gc pauses: {gc}")


async def _lag_stages(bench: Bench) -> dict[str, Tally[str]]:
    """The lag's stages so far (pair_ops.LAG_STAGES): each histogram's cumulative counts by bound."""
    urls = bench.service_urls()
    return {
        name: await pair_ops.buckets(urls[service], histogram)
        for name, (service, histogram) in pair_ops.LAG_STAGES.items()
    }


async def _gc_pauses(bench: Bench) -> dict[str, Tally[str]]:
    """Each service's garbage-collector pauses so far, all generations: cumulative counts by bound."""
    urls = bench.service_urls()
    return {name: await pair_ops.buckets(url, pair_ops.GC_PAUSES) for name, url in urls.items()}


def _env(env: dict[str, str], args: argparse.Namespace) -> dict[str, str]:
    """The pair's settings, with the read cache's size when --read-cache gives one."""
    if args.read_cache is None:
        return env
    return {**env, "CQRS_READ_CACHE_SIZE": str(args.read_cache)}


def _facts(args: argparse.Namespace) -> dict[str, object]:
    return {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}, uvloop",
        "customers": args.customers,
        "seconds": args.seconds,
        "warmup": args.warmup,
        "in_flight": args.in_flight,
        "read_cache": "default" if args.read_cache is None else args.read_cache,
    }


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000, help="customers seeded (default 10,000)")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per figure (default 5)")
    parser.add_argument(
        "--warmup", type=float, default=1.5, help="seconds of warm-up before each (default 1.5)"
    )
    parser.add_argument("--in-flight", type=lambda s: [int(x) for x in s.split(",")], default=[1, 16, 64])
    parser.add_argument("--out", type=Path, default=RESULTS / "bench.json")
    parser.add_argument("--plot", type=Path, default=RESULTS / "bench.png")
    parser.add_argument(
        "--only",
        type=lambda s: set(s.split(",")),
        default=set(SCENARIOS),
        help=f"a part of the run, for working on one figure: some of {','.join(SCENARIOS)} (default all)",
    )
    parser.add_argument(
        "--min-samples",
        type=int,
        default=MIN_SAMPLES,
        help=f"at least this many per figure ({MIN_SAMPLES:,})",
    )
    parser.add_argument(
        "--lag-rate", type=float, default=100, help="the lag's rate when commands are not run"
    )
    parser.add_argument(
        "--read-cache",
        type=int,
        help="the query service's view cache size (CQRS_READ_CACHE_SIZE; 0: every read from the database)",
    )
    parser.add_argument("--profile", type=Path, help="py-spy the services into this folder (profile.py)")
    parser.add_argument("--json", action="store_true", help="print the JSON document instead of the table")
    return parser.parse_args()


if __name__ == "__main__":
    import uvloop

    options = arguments()
    began = time.monotonic()
    result = uvloop.run(main(options))
    result.facts["took_s"] = round(time.monotonic() - began)
    result.write(options.out)
    plot(result, options.plot)
    print(options.out.read_text() if options.json else table(result))
    say(f"wrote {options.out} and {options.plot} ({result.facts['took_s']} s)")
