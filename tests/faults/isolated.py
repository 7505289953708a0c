"""A pair of services on a vhost and databases of their own, optionally behind a TCP proxy.

async with isolated(pair, servers, {"CQRS_RETRY_ATTEMPTS": "3"}, proxied=True) as own:
    own.env, own.command, own.query, own.proxy     # proxy: SIGUSR1 cuts, SIGUSR2 broker down/up
"""

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from tests.pair import ROOT, Pair, Service, start, wait_ready
from tests.resources import Servers, fresh_resources


@dataclass
class Isolated:
    env: dict[str, str]
    vhost: str
    dsn: str
    read_db: str
    command: Service | None = None
    query: Service | None = None
    proxy: asyncio.subprocess.Process | None = None


def through(url: str, port: int) -> str:
    """``url`` with the proxy's port in place of the broker's."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    return urlunsplit((parts.scheme, f"{credentials}@127.0.0.1:{port}", parts.path, "", ""))


@asynccontextmanager
async def proxy_to(url: str) -> AsyncIterator[tuple[int, asyncio.subprocess.Process]]:
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


@asynccontextmanager
async def isolated(
    pair: Pair, servers: Servers, overrides: dict[str, str], *, proxied: bool = False, services: bool = True
) -> AsyncIterator[Isolated]:
    """Fresh vhost and databases; with ``services``, both services started on them and stopped after."""
    async with fresh_resources(servers) as (vhost, dsn, read_db), AsyncExitStack() as stack:
        url, proxy = vhost, None
        if proxied:
            port, proxy = await stack.enter_async_context(proxy_to(vhost))
            url = through(vhost, port)
        env = {
            **pair.env,
            **overrides,
            "CQRS_RABBITMQ_URL": url,
            "CQRS_POSTGRES_DSN": dsn,
            "CQRS_MONGODB_DATABASE": read_db,
        }
        own = Isolated(env, vhost, dsn, read_db, proxy=proxy)
        if services:
            own.command = start("command-own", "command_service", env, pair.log_dir)
            own.query = start("query-own", "query_service", env, pair.log_dir)
            stack.callback(own.command.stop)
            stack.callback(own.query.stop)
            await asyncio.gather(wait_ready(own.command), wait_ready(own.query))
        yield own
