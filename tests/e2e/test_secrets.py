"""Secrets in files (CQRS_<NAME>_FILE, as Docker and Kubernetes mount them) reach the services and the
CLI, and no password leaves them: not in a log line, /readyz, the CLI's output, nor the error of a
service started with a wrong one."""

import asyncio
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import aiohttp

from cqrs_client.client import CqrsClient
from cqrs_contracts import CreateCustomer, GetCustomer
from tests.builders import accepted
from tests.own import Own, own_resources, running
from tests.pair import ROOT, free_port
from tests.resources import Servers
from tests.servers import rabbitmqctl

URLS = ("CQRS_RABBITMQ_URL", "CQRS_POSTGRES_DSN", "CQRS_MONGODB_URL")


def with_password(url: str, password: str, user: str | None = None) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user or parts.username or 'cqrs'}:{password}@{host}"))


@contextmanager
def broker_user(own: Own, servers: Servers, password: str) -> Iterator[str]:
    """A RabbitMQ user of its own with ``password``, allowed on the own vhost: its URL."""
    ctl = rabbitmqctl(servers.rabbitmq)
    assert ctl is not None
    user = f"cqrs-secret-{uuid4().hex[:8]}"
    ctl("add_user", user, password)
    try:
        ctl("set_permissions", "-p", own.vhost, user, ".*", ".*", ".*")
        yield with_password(own.amqp_url, password, user)
    finally:
        ctl("delete_user", user, check=False)


def in_files(env: dict[str, str], folder: Path, urls: dict[str, str]) -> dict[str, str]:
    """``env`` with each URL of ``urls`` given as a file (a trailing newline, as `echo` writes it)."""
    given = {name: value for name, value in env.items() if name not in URLS}
    for name, url in urls.items():
        path = folder / f"{name.lower()}-{uuid4().hex[:6]}"
        path.write_text(url + "\n")
        path.chmod(0o600)
        given[f"{name}_FILE"] = str(path)
    return given


def refused(module: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A service that cannot start (a wrong password): it exits 1 and says why."""
    port = {"CQRS_COMMAND_HTTP_PORT": str(free_port()), "CQRS_QUERY_HTTP_PORT": str(free_port())}
    done = subprocess.run(
        [sys.executable, "-m", module],
        env={**env, **port},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    return done


async def readyz(url: str) -> str:
    async with aiohttp.ClientSession() as session, session.get(url + "/readyz") as response:
        return await response.text()


async def test_urls_from_files_work_and_no_password_leaves_the_services(
    servers: Servers, tmp_path: Path
) -> None:
    secret = f"S3cret{uuid4().hex}"
    async with own_resources(servers) as own:
        with broker_user(own, servers, secret) as broker:
            urls = {
                "CQRS_RABBITMQ_URL": broker,
                "CQRS_POSTGRES_DSN": own.env["CQRS_POSTGRES_DSN"],
                "CQRS_MONGODB_URL": own.env["CQRS_MONGODB_URL"],
            }
            env = in_files(own.env, tmp_path, urls)
            shown: list[str] = []
            async with running(env, tmp_path, clean_exit=True) as services:
                command, query = services.command, services.query
                async with CqrsClient.connect(broker, timeout=10) as client:
                    created = accepted(await client.send(CreateCustomer(name="Secretive", locale="en")))
                    view = await client.ask(GetCustomer(customer_id=created.id, min_version=created.version))
                assert view.name == "Secretive"
                shown += [await readyz(command.url), await readyz(query.url)]
                status = await asyncio.to_thread(
                    subprocess.run,
                    [sys.executable, "-m", "cqrs_shared.cli", "status"],
                    env={**env, "CQRS_COMMAND_HTTP_URL": command.url, "CQRS_QUERY_HTTP_URL": query.url},
                    capture_output=True,
                    text=True,
                    timeout=60,
                    check=False,
                )
                assert status.returncode == 0, status.stdout + status.stderr
                shown += [status.stdout, status.stderr]
            shown += [command.output(), query.output()]

            # Each secret wrong in turn: the service stops with the reason, the URL's password hidden.
            wrong = f"Wr0ng{uuid4().hex}"
            cases = [
                (
                    "command_service",
                    "CQRS_RABBITMQ_URL",
                    "cannot connect to the broker at amqps?://cqrs-secret-",
                ),
                ("command_service", "CQRS_POSTGRES_DSN", "cannot connect to PostgreSQL at postgresql://"),
                ("query_service", "CQRS_MONGODB_URL", "cannot prepare the read model at mongodb://"),
            ]
            for module, name, reason in cases:
                bad = in_files(env, tmp_path, {**urls, name: with_password(urls[name], wrong)})
                stderr = (await asyncio.to_thread(refused, module, bad)).stderr
                assert re.search(reason, stderr), stderr
                assert ":***@" in stderr, stderr
                shown.append(stderr)

    everything = "\n".join(shown)
    assert secret not in everything
    assert wrong not in everything
    for url in urls.values():
        password = urlsplit(url).password
        if password:
            assert f":{password}@" not in everything
