"""`make bench` itself, small: every figure of the full run comes out, beside its ratio, as a table's
JSON and a plot; no deposit is lost. (The full run's figures: docs/performance.md.)"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.resources import Servers
from tests.servers import rabbitmqctl

IN_FLIGHT = (1, 4)
SCENARIOS = {
    "echo, raw aio-pika (the ceiling)",
    "echo, aio-pika patterns.JsonRPC",
    "echo, FastStream request/reply",
    "GetCustomer by id",
    "GetCustomersWithName",
    "CreateCustomer",
    "Deposit on 10 hot accounts",
    "Deposit on 1 hot account",
}
DEPOSITS = {"Deposit on 10 hot accounts", "Deposit on 1 hot account"}
PAIR = {"GetCustomer by id", "GetCustomersWithName", "CreateCustomer", *DEPOSITS}


def bench_env(servers: Servers) -> dict[str, str]:
    """What `python -m bench` reads to find the servers of this test session."""
    return {
        **os.environ,
        "CQRS_RABBITMQ_URL": servers.rabbitmq,
        "CQRS_TEST_POSTGRES_DSN": servers.postgres,
        "CQRS_MONGODB_URL": servers.mongodb,
    }


@pytest.mark.timeout(300)
def test_a_short_bench_gives_every_figure_with_its_ratio_to_the_ceiling(
    servers: Servers, tmp_path: Path
) -> None:
    out, picture = tmp_path / "bench.json", tmp_path / "bench.png"
    env = bench_env(servers)
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--customers", "60", "--seconds", "0.3", "--warmup", "0.1",
         "--in-flight", ",".join(map(str, IN_FLIGHT)), "--min-samples", "40", "--lag-rate", "40",
         "--out", str(out), "--plot", str(picture)],
        env=env, capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    document = json.loads(out.read_text())
    figures = document["figures"]
    measured = {(f["scenario"], f["in_flight"]) for f in figures}
    assert measured >= {(s, n) for s in SCENARIOS for n in IN_FLIGHT}
    for figure in figures:
        assert figure["n"] >= 40, figure
        assert figure["per_s"] > 0, figure
        assert figure["p50_ms"] <= figure["p99_ms"], figure
        if not figure["scenario"].startswith("lag"):
            assert figure["ratio"] is not None, figure
            assert figure["ratio"] > 0, figure
        if figure["scenario"] in PAIR:
            # Each service's collector pauses per operation, from its own histogram.
            assert re.search(r"gc ms/op: command \d+\.\d{3}, query \d+\.\d{3}$", figure["note"]), figure
        if figure["scenario"] in DEPOSITS:
            # How much of the writes went together, from the services' own histograms.
            together = r"committed together \d+%, [\d.]+ a statement; projected together \d+%, [\d.]+ a batch"
            assert re.search(together, figure["note"]), figure
    [lag] = [f for f in figures if f["scenario"].startswith("lag")]
    assert lag["n"] >= 40
    # The lag's stages, from the services' histograms, scraped before and after the figure: each
    # read-back waited for its command's event to be visible, so that event was published and
    # projected in between (one in 4 commands is read back; the last ones may still be on the way).
    stages = re.findall(r"commit -> (published|projected) p50 <= [\d.]+ ms, .*?\(n (\d+)\)", lag["note"])
    assert [name for name, _ in stages] == ["published", "projected"], lag["note"]
    assert all(int(n) >= lag["n"] for _, n in stages), lag["note"]
    longest = r"longest (-|<= [\d.]+ ms|> [\d.]+ ms)"
    assert re.search(rf"gc pauses: command \d+, {longest}; query \d+, {longest}$", lag["note"]), lag["note"]
    assert document["facts"]["lost_updates"] == 0
    assert set(document["memory_mb"]) == {"command service", "query service"}
    assert all(mb > 10 for mb in document["memory_mb"].values())
    assert picture.stat().st_size > 10_000
    assert "ratio" in done.stdout
    assert "CPU seconds per 1,000 operations" in done.stdout


@pytest.mark.timeout(200)
def test_a_profiled_bench_samples_both_services_and_the_client(servers: Servers, tmp_path: Path) -> None:
    """`--profile DIR`: py-spy's stacks and a summary per process, the benchmark's own among them."""
    env = bench_env(servers)
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "queries", "--customers", "60", "--seconds", "1",
         "--warmup", "0.1", "--in-flight", "4", "--min-samples", "40", "--profile", str(tmp_path / "prof"),
         "--out", str(tmp_path / "bench.json"), "--plot", str(tmp_path / "bench.png")],
        env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    for process in ("command-service", "query-service", "benchmark"):
        assert (tmp_path / "prof" / f"getcustomer-by-id.{process}.txt").exists(), process
    client = (tmp_path / "prof" / "getcustomer-by-id.benchmark.summary.txt").read_text()
    samples = re.match(r"(\d+) samples on the CPU", client)
    assert samples, client[:500]
    assert int(samples[1]) > 0, client[:500]


CONFIRMS = re.compile(
    r"^classic queue, 40/s for 1 s: publish -> confirm"
    r" p50 ([\d.]+) ms, p90 ([\d.]+) ms, p99 ([\d.]+) ms \(n 40\)$"
)


@pytest.mark.timeout(120)
def test_the_confirm_latency_tool_times_every_publish_and_removes_its_queue(servers: Servers) -> None:
    """`python -m bench.confirm_latency` (docs/performance.md, "The lag's parts") on the real broker."""
    ctl = rabbitmqctl(servers.rabbitmq)
    assert ctl is not None, "rabbitmqctl cannot reach the test broker"
    vhost = urlsplit(servers.rabbitmq).path.lstrip("/") or "/"
    env = {**os.environ, "CQRS_RABBITMQ_URL": servers.rabbitmq}
    done = subprocess.run(
        [sys.executable, "-m", "bench.confirm_latency", "--rate", "40", "--seconds", "1"],
        env=env, capture_output=True, text=True, timeout=100, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    found = CONFIRMS.match(done.stdout.strip())
    assert found, done.stdout
    p50, p90, p99 = map(float, found.groups())
    assert 0 < p50 <= p90 <= p99, done.stdout
    queues = ctl("list_queues", "-p", vhost, "name").split()
    assert not [name for name in queues if name.startswith("bench.confirms.")], queues
