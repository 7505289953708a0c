"""A pair of services on a vhost and databases of their own, started with the settings a test gives.

async with own_resources(servers) as own:               # vhost, database, read database
    env = {**own.env, "CQRS_RABBITMQ_URL": amqps_url}   # the test's own way to reach them
    async with running(env, log_dir) as (command, query):
        ...                                             # both stopped on leaving, each must exit 0
"""

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from tests.pair import Service, start, wait_ready
from tests.resources import Servers, fresh_resources


@dataclass(frozen=True)
class Own:
    env: dict[str, str]  # this process's environment with the own resources' URLs
    amqp_url: str  # the broker URL (the server's credentials) on the own vhost
    dsn: str
    read_db: str

    @property
    def vhost(self) -> str:
        return urlsplit(self.amqp_url).path.lstrip("/")


@asynccontextmanager
async def own_resources(servers: Servers) -> AsyncIterator[Own]:
    async with fresh_resources(servers) as (vhost, dsn, read_db):
        env = {
            **os.environ,
            "CQRS_RABBITMQ_URL": vhost,
            "CQRS_POSTGRES_DSN": dsn,
            "CQRS_MONGODB_URL": servers.mongodb,
            "CQRS_MONGODB_DATABASE": read_db,
            "CQRS_RELAY_POLL_INTERVAL": "0.5",
            "CQRS_LOG_FORMAT": "json",
        }
        yield Own(env, vhost, dsn, read_db)


@asynccontextmanager
async def running(env: dict[str, str], log_dir: Path) -> AsyncIterator[tuple[Service, Service]]:
    """Both services on ``env``, ready; stopped on leaving (SIGTERM), each expected to exit 0."""
    command = start("command-own", "command_service", env, log_dir)
    query = start("query-own", "query_service", env, log_dir)
    try:
        await asyncio.gather(wait_ready(command), wait_ready(query))
        yield command, query
    finally:
        statuses = {service.name: service.stop() for service in (command, query)}
    assert statuses == {"command-own": 0, "query-own": 0}, f"{command.output()}\n{query.output()}"
