"""`make soak` itself, short: 45 s at a fixed rate give every figure, every check passed, and a plot.
(The full run of 30 minutes: docs/performance.md.)"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.resources import Servers

RATE = 40  # commands/s, and as many queries: a fraction of what the pair does on 2 cores
FIGURES = {"facts", "load", "rss_mb", "queue_depth", "lag_ms", "checks", "passed", "timeline"}
CHECKS = {
    "memory, command service",
    "memory, query service",
    "queue depth does not trend upward",
    "lag tail, last window <= 2 x first",
    "no failed, timed-out or shed operation",
}


@pytest.mark.timeout(300)
def test_a_short_soak_at_a_fixed_rate_passes_every_check_and_draws_its_plot(
    servers: Servers, tmp_path: Path
) -> None:
    out, picture = tmp_path / "soak.json", tmp_path / "soak.png"
    env = {
        **os.environ,
        "CQRS_RABBITMQ_URL": servers.rabbitmq,
        "CQRS_TEST_POSTGRES_DSN": servers.postgres,
        "CQRS_MONGODB_URL": servers.mongodb,
        "SOAK_MINUTES": "0.75",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--rate", str(RATE), "--customers", "200", "--accounts", "20",
         "--queries-per-command", "1", "--out", str(out), "--plot", str(picture), "--json"],
        env=env, capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    document = json.loads(out.read_text())
    assert json.loads(done.stdout) == document
    assert set(document) >= FIGURES
    facts, load = document["facts"], document["load"]
    assert facts["seconds"] == 45
    assert facts["offered_commands_per_s"] == RATE
    assert facts["measured_commands_per_s"] is None
    assert load["commands_per_s"] > 0.9 * RATE
    assert load["queries_per_s"] > 0.9 * RATE
    assert set(load["accepted"]) == {"CreateCustomer", "OpenAccount", "Deposit"}
    assert load["failures"] == {}
    assert len(document["timeline"]) >= 15
    assert set(document["rss_mb"]) == {"command service", "query service"}
    for rss in document["rss_mb"].values():
        assert all(mb > 10 for mb in rss.values()), rss
    for window in ("first_window", "last_window"):
        lags = document["lag_ms"][window]
        assert lags["n"] >= 50
        assert lags["p50"] <= lags["tail"] <= lags["p99"], lags
        assert lags["tail_quantile"] in {f"p{q}" for q in range(90, 100)}, lags
        assert document["queue_depth"][window]["max"] >= 0
    assert {check["name"] for check in document["checks"]} == CHECKS
    assert document["passed"], document["checks"]
    assert picture.stat().st_size > 10_000
