"""Both services as real processes, on this session's vhost, database and read database (a plugin)."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cqrs_client.client import CqrsClient
from tests.masked import masked
from tests.resources import fresh_mongo, fresh_postgres

ROOT = Path(__file__).resolve().parents[1]
KILLED = -999  # what stop() reports for a service that did not stop within its drain time


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    http_port: int

    @property
    def url(self) -> str:
        """Where its /healthz, /readyz and /metrics answer."""
        return f"http://127.0.0.1:{self.http_port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM, as a container runtime would; returns the exit status (KILLED if it hung)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return KILLED


@dataclass
class Pair:
    env: dict[str, str]
    command: Service
    query: Service
    postgres_dsn: str
    log_dir: Path

    async def restart_command(self) -> None:
        """A new command service process (after a test killed the old one)."""
        self.command.stop()
        self.command = start("command", "command_service", self.env, self.log_dir)
        await wait_ready(self.command)

    async def restart_query(self) -> None:
        self.query.stop()
        self.query = start("query", "query_service", self.env, self.log_dir)
        await wait_ready(self.query)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def http_ports() -> dict[str, str]:
    """Ports of their own for a command and a query service (several pairs run at once in tests)."""
    return {"CQRS_COMMAND_HTTP_PORT": str(free_port()), "CQRS_QUERY_HTTP_PORT": str(free_port())}


def start(
    name: str,
    module: str,
    env: dict[str, str],
    log_dir: Path,
    *,
    python: str = sys.executable,
    cwd: Path = ROOT,
) -> Service:
    """``module``'s service as a process of ``python`` (another release's, in a rolling upgrade)."""
    log = log_dir / f"{name}-{time.monotonic_ns()}.log"
    port = free_port()
    variable = "CQRS_COMMAND_HTTP_PORT" if module == "command_service" else "CQRS_QUERY_HTTP_PORT"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [python, "-m", module],
            env={**env, variable: str(port)},
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            preexec_fn=masked,
        )
    return Service(name, process, log, port)


async def wait_ready(service: Service, timeout: float = 60) -> None:
    for _ in range(int(timeout / 0.1)):
        if "service ready" in service.output():
            return
        if service.process.poll() is not None:
            break
        await asyncio.sleep(0.1)
    raise AssertionError(f"{service.name} did not start:\n{service.output()}")


@pytest.fixture(scope="session")
async def e2e_postgres(postgres_server: str) -> AsyncIterator[str]:
    async with fresh_postgres(postgres_server, "cqrs_e2e") as dsn:
        yield dsn


@pytest.fixture(scope="session")
async def e2e_mongo_database(mongodb_url: str) -> AsyncIterator[str]:
    async with fresh_mongo(mongodb_url, "cqrs_e2e") as name:
        yield name


def settings(rabbitmq_url: str, postgres_dsn: str, mongodb_url: str, mongodb_database: str) -> dict[str, str]:
    """This process's environment for a pair on these resources (this session's, or a test's own)."""
    return {
        **os.environ,
        "CQRS_RABBITMQ_URL": rabbitmq_url,
        # make run's per-service URLs (infra/local.env) name the local vhost: not the pair's.
        "CQRS_COMMAND_RABBITMQ_URL": "",
        "CQRS_QUERY_RABBITMQ_URL": "",
        "CQRS_POSTGRES_DSN": postgres_dsn,
        "CQRS_MONGODB_URL": mongodb_url,
        "CQRS_MONGODB_DATABASE": mongodb_database,
        "CQRS_RELAY_POLL_INTERVAL": "0.5",
        "CQRS_MAX_WAIT": "3",
    }


@pytest.fixture(scope="session")
def pair_env(
    rabbitmq_url: str, e2e_postgres: str, mongodb_url: str, e2e_mongo_database: str
) -> dict[str, str]:
    return settings(rabbitmq_url, e2e_postgres, mongodb_url, e2e_mongo_database)


@pytest.fixture(scope="session")
async def pair(pair_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Pair]:
    logs = tmp_path_factory.mktemp("services")
    command = start("command", "command_service", pair_env, logs)
    query = start("query", "query_service", pair_env, logs)
    pair = Pair(pair_env, command, query, pair_env["CQRS_POSTGRES_DSN"], logs)
    try:
        await asyncio.gather(wait_ready(command), wait_ready(query))
        yield pair
    finally:
        statuses = {service.name: service.stop() for service in (pair.command, pair.query)}
    # Stopping on SIGTERM is part of the contract: finish in-flight work, exit 0.
    assert statuses == {"command": 0, "query": 0}, f"{pair.command.output()}\n{pair.query.output()}"


@pytest.fixture
async def client(pair: Pair) -> AsyncIterator[CqrsClient]:
    async with CqrsClient.connect(pair.env["CQRS_RABBITMQ_URL"], timeout=10) as client:
        yield client


@pytest.fixture
def cli(pair: Pair) -> "Cli":
    return Cli(pair.env)


@dataclass
class Cli:
    env: dict[str, str]

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cqrs_shared.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
