"""TLS on the wire: a pair of its own reaches RabbitMQ over amqps, PostgreSQL with sslmode=verify-full and
MongoDB with tls=true, each checked against the local CA (infra/provision.sh); a client that does not
trust it is refused.

Local servers only (TLS listeners on 127.0.0.1:5671 for RabbitMQ and 127.0.0.1:27018 for FerretDB,
PostgreSQL with the CA's certificate): `make test-containers` leaves this module out.
"""

import asyncio
import os
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import asyncpg
import pytest

from cqrs_client.client import CqrsClient
from cqrs_client.errors import BrokerUnavailable
from cqrs_contracts import CreateCustomer, GetCustomer
from tests.builders import accepted
from tests.own import Own, own_resources, running
from tests.resources import Servers

AMQPS_PORT = 5671
MONGODB_TLS_PORT = 27018
STATE = Path(
    os.environ.get("CQRS_STATE_DIR")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cqrs-pair"
)
CA = os.environ.get("CQRS_TEST_CA") or str(STATE / "tls" / "ca.pem")


def amqps(url: str, **query: str) -> str:
    """``url`` on the broker's TLS port, with ``query`` (cafile=...) as aiormq reads it."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@{parts.hostname}:{AMQPS_PORT}"
    return urlunsplit(("amqps", netloc, parts.path, urlencode(query, safe="/"), ""))


def with_query(dsn: str, **query: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query, safe="/"), ""))


def mongodb_tls(url: str, **query: str) -> str:
    """``url`` on the server's TLS port, its own query (the login mechanism) kept, with ``query``."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = (
        f"{credentials}@{parts.hostname}:{MONGODB_TLS_PORT}"
        if credentials
        else f"{parts.hostname}:{MONGODB_TLS_PORT}"
    )
    both = "&".join(part for part in (parts.query, urlencode(query, safe="/")) if part)
    return urlunsplit((parts.scheme, netloc, parts.path or "/", both, ""))


def broker_connections(vhost: str) -> list[tuple[str, bool]]:
    """(user, ssl) of every client connection on ``vhost``, as the broker sees them."""
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_connections", "vhost", "user", "ssl"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    rows = [line.split("\t") for line in listed.splitlines() if line.strip()]
    return [(user, ssl == "true") for host, user, ssl in rows if host == vhost]


@pytest.fixture(scope="module")
def ca() -> str:
    assert Path(CA).is_file(), f"no CA at {CA}: run infra/provision.sh (or set CQRS_TEST_CA)"
    return CA


@pytest.fixture(scope="module")
async def tls_pair(
    ca: str,
    rabbitmq_server: str,
    postgres_server: str,
    mongodb_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Own]:
    # The tests' own role makes the database over verified TLS too; the yielded DSN keeps the query.
    servers = Servers(
        rabbitmq_server,
        with_query(postgres_server, sslmode="verify-full", sslrootcert=ca),
        mongodb_tls(mongodb_url, tls="true", tlsCAFile=ca),
    )
    async with own_resources(servers) as own:
        url = amqps(own.amqp_url, cafile=ca)
        env = {**own.env, "CQRS_RABBITMQ_URL": url}
        async with running(env, tmp_path_factory.mktemp("tls"), clean_exit=True):
            yield replace(own, env=env, amqp_url=url)


async def test_a_command_and_a_query_go_over_tls(tls_pair: Own) -> None:
    async with CqrsClient.connect(tls_pair.amqp_url, timeout=10) as client:
        created = accepted(await client.send(CreateCustomer(name="Over TLS", locale="en-GB")))
        view = await client.ask(GetCustomer(customer_id=created.id, min_version=created.version))
    assert (view.name, view.version) == ("Over TLS", 1)


async def test_every_broker_connection_of_the_pair_is_tls(tls_pair: Own) -> None:
    connections = await asyncio.to_thread(broker_connections, tls_pair.vhost)
    # The command and the query service hold theirs; a plain amqp one would show ssl=false.
    assert len(connections) >= 2, connections
    assert all(ssl for _, ssl in connections), connections


async def test_the_command_service_reaches_postgresql_over_verified_tls(tls_pair: Own) -> None:
    assert "sslmode=verify-full" in tls_pair.dsn
    conn = await asyncpg.connect(tls_pair.dsn)
    try:
        backends = await conn.fetch(
            "SELECT a.pid, s.ssl, s.version FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)"
            " WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()"
        )
        plain = await asyncpg.connect(with_query(tls_pair.dsn, sslmode="disable"))
        try:
            # The same view tells a connection without TLS apart.
            assert await plain.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") is False
        finally:
            await plain.close()
    finally:
        await conn.close()
    assert backends, "the command service holds no connection to its database"
    assert all(row["ssl"] and row["version"].startswith("TLSv1.") for row in backends), backends


async def test_a_client_that_does_not_trust_the_ca_is_refused(tls_pair: Own) -> None:
    untrusting = amqps(tls_pair.amqp_url)  # no cafile: the system's CAs, which never signed the broker's
    with pytest.raises(BrokerUnavailable) as refused:
        async with CqrsClient.connect(untrusting, timeout=10):
            pass
    message = str(refused.value)
    assert "certificate verify failed" in message, message
    password = urlsplit(untrusting).password
    assert password
    assert f":{password}@" not in message


def tls_handshake(port: int, cafile: str | None) -> str:
    """The TLS version a client trusting ``cafile`` (None: the system's CAs) agrees on with the port."""
    context = ssl.create_default_context(cafile=cafile)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as wrapped,
    ):
        return wrapped.version() or ""


async def test_the_query_service_reaches_mongodb_on_its_tls_port_which_only_the_ca_opens(
    tls_pair: Own, ca: str
) -> None:
    # The pair answered a query above through this URL.
    assert f":{MONGODB_TLS_PORT}/" in tls_pair.env["CQRS_MONGODB_URL"]
    assert (await asyncio.to_thread(tls_handshake, MONGODB_TLS_PORT, ca)).startswith("TLSv1.")
    with pytest.raises(ssl.SSLCertVerificationError):
        await asyncio.to_thread(tls_handshake, MONGODB_TLS_PORT, None)


async def test_postgresql_with_the_wrong_ca_is_refused(tls_pair: Own) -> None:
    wrong = with_query(tls_pair.dsn, sslmode="verify-full", sslrootcert="/etc/ssl/certs/ca-certificates.crt")
    with pytest.raises(OSError, match="certificate verify failed"):
        await asyncpg.connect(wrong)
