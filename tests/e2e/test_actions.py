"""The services' one-shot actions, as an init container or a container HEALTHCHECK runs them."""

import asyncio
import os
import subprocess
import sys

import asyncpg

from tests.pair import Pair, free_port
from tests.resources import fresh_postgres


def action(module: str, name: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, name],
        env={**os.environ, "CQRS_LOG_FORMAT": "text", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_migrate_applies_every_migration_once_then_exits(postgres_server: str) -> None:
    async with fresh_postgres(postgres_server, "cqrs_migrate") as dsn:
        first = await asyncio.to_thread(action, "command_service", "migrate", {"CQRS_POSTGRES_DSN": dsn})
        again = await asyncio.to_thread(action, "command_service", "migrate", {"CQRS_POSTGRES_DSN": dsn})
        conn = await asyncpg.connect(dsn)
        try:
            applied = await conn.fetchval("SELECT count(*) FROM schema_migrations")
            events = await conn.fetchval("SELECT to_regclass('events') IS NOT NULL")
        finally:
            await conn.close()
    assert first.returncode == 0, first.stderr
    assert f"({applied} migration(s) applied now)" in first.stderr
    assert applied >= 1
    assert events is True
    assert again.returncode == 0, again.stderr
    assert "(0 migration(s) applied now)" in again.stderr


def test_migrate_without_a_database_exits_1_and_says_why() -> None:
    dsn = f"postgresql://someone:secret@127.0.0.1:{free_port()}/nowhere"
    done = action("command_service", "migrate", {"CQRS_POSTGRES_DSN": dsn})
    assert done.returncode == 1
    assert "cannot migrate database: cannot connect to PostgreSQL at" in done.stderr
    assert "secret" not in done.stderr


async def test_healthcheck_is_0_for_a_ready_service_and_1_where_none_answers(pair: Pair) -> None:
    ports = {
        "command_service": ("CQRS_COMMAND_HTTP_PORT", pair.command.http_port),
        "query_service": ("CQRS_QUERY_HTTP_PORT", pair.query.http_port),
    }
    for module, (variable, port) in ports.items():
        ready = await asyncio.to_thread(action, module, "healthcheck", {variable: str(port)})
        assert ready.returncode == 0, ready.stdout
        assert '"ready":true' in ready.stdout
        absent = await asyncio.to_thread(action, module, "healthcheck", {variable: str(free_port())})
        assert absent.returncode == 1
        assert "no answer from http://127.0.0.1:" in absent.stdout
