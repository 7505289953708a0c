"""A pair of services on a vhost and databases of its own, started with the settings a test gives;
optionally with the broker behind a proxy of its own (tests/faults/proxy.py) that a signal steers.

async with own_resources(servers, {"CQRS_RETRY_ATTEMPTS": "3"}, proxied=True) as own:
    own.env, own.amqp_url, own.dsn, own.read_db     # amqp_url: the own vhost directly, not the proxy
    async with running(own.env, log_dir) as services:   # both ready: services.command, services.query
        own.proxy.send_signal(signal.SIGUSR1)           # cut; SIGUSR2 broker down/up; SIGHUP freeze
"""

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tests.pair import ROOT, Service, settings, start, wait_ready
from tests.resources import Servers, fresh_resources


@dataclass(frozen=True)
class Own:
    env: dict[str, str]  # a pair's settings on the own resources (the broker through the proxy, if any)
    amqp_url: str  # the broker URL (the server's credentials) on the own vhost
    dsn: str
    read_db: str
    proxy: asyncio.subprocess.Process | None = None  # with ``proxied``; it answers each signal on stdout

    @property
    def vhost(self) -> str:
        return urlsplit(self.amqp_url).path.lstrip("/")


@dataclass
class Services:
    """Both services of a pair; a test may replace one (the one there on leaving is stopped)."""

    command: Service
    query: Service


@asynccontextmanager
async def own_resources(
    servers: Servers, overrides: Mapping[str, str] | None = None, *, proxied: bool = False
) -> AsyncIterator[Own]:
    """Fresh vhost and databases, removed on leaving; ``overrides`` on top of a pair's settings."""
    async with fresh_resources(servers) as (vhost, dsn, read_db), AsyncExitStack() as stack:
        url, proxy = vhost, None
        if proxied:
            port, proxy = await stack.enter_async_context(_proxy_to(vhost))
            url = _through(vhost, port)
        env = {**settings(url, dsn, servers.mongodb, read_db), **(overrides or {})}
        yield Own(env, vhost, dsn, read_db, proxy)


@asynccontextmanager
async def running(
    env: Mapping[str, str],
    log_dir: Path,
    *,
    command_env: Mapping[str, str] | None = None,
    query_env: Mapping[str, str] | None = None,
    clean_exit: bool = False,
) -> AsyncIterator[Services]:
    """Both services on ``env`` (plus each one's own settings), ready; stopped on leaving (SIGTERM),
    and with ``clean_exit`` each must have exited 0."""
    services = Services(
        start("command-own", "command_service", {**env, **(command_env or {})}, log_dir),
        start("query-own", "query_service", {**env, **(query_env or {})}, log_dir),
    )
    try:
        await asyncio.gather(wait_ready(services.command), wait_ready(services.query))
        yield services
    finally:
        statuses = {service.name: service.stop() for service in (services.command, services.query)}
    if clean_exit:
        assert statuses == dict.fromkeys(statuses, 0), (
            f"{services.command.output()}\n{services.query.output()}"
        )


def _through(url: str, port: int) -> str:
    """``url`` with the proxy's port in place of the broker's."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    return urlunsplit((parts.scheme, f"{credentials}@127.0.0.1:{port}", parts.path, "", ""))


@asynccontextmanager
async def _proxy_to(url: str) -> AsyncIterator[tuple[int, asyncio.subprocess.Process]]:
    """A proxy process in front of ``url``'s broker: its port, and the process (signals steer it)."""
    broker = urlsplit(url)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.faults.proxy",
        broker.hostname or "127.0.0.1",
        str(broker.port or 5672),
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    assert process.stdout is not None
    try:
        yield int(await process.stdout.readline()), process
    finally:
        process.terminate()
        await process.wait()


async def verified(own: Own) -> dict[str, Any]:
    """`cqrs projection verify --json`, as an operator runs it with the pair's settings; it must pass.
    A minute per reply: in the container check (FerretDB in a container, the machine shared with
    Docker) one VerifyStream of a 101-event account took longer than the CLI's default 10 s."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cqrs_shared.cli", "projection", "verify", "--json", "--timeout", "60",
        env=own.env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 300)
    assert process.returncode == 0, out.decode() + err.decode()
    found: dict[str, Any] = json.loads(out)
    return found
