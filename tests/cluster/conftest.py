"""The pair on the three-node RabbitMQ cluster of infra/cluster.sh (`make test-cluster` starts it).

Each test has a vhost of its own on the cluster, a PostgreSQL database and a read database; the
services reach the cluster through all three nodes' URLs, as a deployment would.
"""

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.pair import ROOT, Service, start, wait_ready
from tests.resources import fresh_mongo, fresh_postgres, unique
from tests.waiting import until

NODES = {"a": 5701, "b": 5702, "c": 5703}


def urls(user: str, vhost: str, nodes: tuple[str, ...] = tuple(NODES)) -> str:
    """The comma-separated URLs of ``nodes`` for ``user`` (whose password is its name here)."""
    return ",".join(f"amqp://{user}:{user}@127.0.0.1:{NODES[node]}/{vhost}" for node in nodes)


def cluster(*args: str) -> str:
    """infra/cluster.sh with ``args``; its output."""
    done = subprocess.run(
        ["bash", str(ROOT / "infra" / "cluster.sh"), *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, f"cluster.sh {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@dataclass
class ClusterPair:
    """Services on the cluster: started with ``add``, all stopped at the end of the test."""

    env: dict[str, str]
    logs: Path
    vhost: str
    postgres_dsn: str
    services: list[Service] = field(default_factory=list)

    def client_urls(self) -> str:
        return urls("cqrs-client", self.vhost)

    def admin_urls(self) -> str:
        return urls("cqrs-admin", self.vhost)

    async def add(self, name: str, module: str, **settings: str) -> Service:
        user = "cqrs-command" if module == "command_service" else "cqrs-query"
        env = {**self.env, "CQRS_RABBITMQ_URL": urls(user, self.vhost), **settings}
        service = start(name, module, env, self.logs)
        self.services.append(service)
        await wait_ready(service)
        return service

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`cqrs` as an operator, on the cluster."""
        return subprocess.run(
            [sys.executable, "-m", "cqrs_shared.cli", *args],
            env={**self.env, "CQRS_RABBITMQ_URL": self.admin_urls()},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    async def verified(self, timeout: float = 60) -> tuple[dict[str, object], str]:
        """`cqrs projection verify` until the read model equals a fold of the event store: its report,
        and how long that took in how many runs of verify. The projector is still catching up on
        what the load left queued (after a node loss, 10 s and more on 2 cores), and verify reports
        a view behind as differences; a lost event never catches up, and fails after ``timeout``."""
        started, runs = time.monotonic(), 0

        async def once() -> dict[str, object] | None:
            nonlocal runs
            runs += 1
            done = await asyncio.to_thread(self.cli, "projection", "verify", "--json")
            report: dict[str, object] = json.loads(done.stdout) if done.stdout else {}
            return report if done.returncode == 0 else None

        report = await until(once, timeout=timeout, what="the read model to equal a fold of the event store")
        return report, f"{time.monotonic() - started:.1f} s, {runs} run{'s' * (runs > 1)} of verify"


@pytest.fixture(scope="session")
def cluster_running() -> None:
    out = cluster("status")
    if "stopped" in out:
        cluster("start")


@pytest.fixture
async def on_cluster(
    cluster_running: None, postgres_server: str, mongodb_url: str, tmp_path: Path
) -> AsyncIterator[ClusterPair]:
    vhost = unique("cqrs-cluster")
    cluster("vhost", vhost)
    async with (
        fresh_postgres(postgres_server, "cqrs_cluster") as dsn,
        fresh_mongo(mongodb_url, "cqrs_cluster") as read_db,
    ):
        env = {
            **os.environ,
            "CQRS_COMMAND_RABBITMQ_URL": "",
            "CQRS_QUERY_RABBITMQ_URL": "",
            "CQRS_POSTGRES_DSN": dsn,
            "CQRS_MONGODB_URL": mongodb_url,
            "CQRS_MONGODB_DATABASE": read_db,
            "CQRS_QUEUE_TYPE": "quorum",
            "CQRS_RELAY_POLL_INTERVAL": "0.5",
            "CQRS_LOG_FORMAT": "json",
        }
        pair = ClusterPair(env, tmp_path, vhost, dsn)
        try:
            yield pair
        finally:
            statuses = [service.stop() for service in reversed(pair.services)]
            for node in NODES:  # a test that stopped a node and failed before starting it again
                if f"node {node}: stopped" in cluster("status"):
                    cluster("start-node", node)
            cluster("drop-vhost", vhost)
    assert all(status in (0, -9) for status in statuses), statuses
