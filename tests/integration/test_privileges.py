"""Least privilege on the servers infra/provision.sh makes: the command service's role owns its database
and can do nothing else; nothing else can reach that database; the read side wants a login.

Local servers only (a container's POSTGRES_USER is a superuser): `make test-containers` leaves this
module out.
"""

import os
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import OperationFailure

# The read side's storage database (infra/provision.sh: FerretDB's own role and database).
FERRETDB_DATABASE = "ferretdb"


def service_dsn() -> str:
    dsn = os.environ.get("CQRS_POSTGRES_DSN")
    assert dsn, "CQRS_POSTGRES_DSN is not set: run with infra/local.env (make test does)"
    return dsn


def on_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture
async def service() -> AsyncIterator[asyncpg.Connection]:
    """A connection as the command service makes it: its role, its database."""
    conn = await asyncpg.connect(service_dsn())
    try:
        yield conn
    finally:
        await conn.close()


async def test_the_service_role_is_no_superuser_and_cannot_create_databases_or_roles(
    service: asyncpg.Connection,
) -> None:
    role = await service.fetchrow(
        "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls"
        " FROM pg_roles WHERE rolname = current_user"
    )
    assert role is not None
    assert not any(role.values()), dict(role)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied to create database"):
        await service.execute('CREATE DATABASE "cqrs_never"')


async def test_the_service_role_owns_its_database_and_reaches_no_other(service: asyncpg.Connection) -> None:
    assert await service.fetchval(
        "SELECT pg_get_userbyid(datdba) = current_user FROM pg_database WHERE datname = current_database()"
    )
    # The tests' own databases aside (their role makes one per session; tests/conftest.py).
    tests_role = urlsplit(os.environ.get("CQRS_TEST_POSTGRES_DSN", "")).username or ""
    others = await service.fetch(
        "SELECT datname FROM pg_database WHERE datallowconn AND has_database_privilege(datname, 'CONNECT')"
        " AND pg_get_userbyid(datdba) NOT IN (current_user, $1)",
        tests_role,
    )
    assert others == [], [row["datname"] for row in others]
    for database in (FERRETDB_DATABASE, "postgres"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied for database"):
            await asyncpg.connect(on_database(service_dsn(), database))


async def test_no_other_role_may_connect_to_the_service_database(service: asyncpg.Connection) -> None:
    others = await service.fetch(
        "SELECT rolname FROM pg_roles WHERE has_database_privilege(oid, current_database(), 'CONNECT')"
        " AND rolname <> current_user AND NOT rolsuper AND rolname NOT LIKE 'pg\\_%'"
    )
    assert others == [], [row["rolname"] for row in others]


async def probe(url: str) -> list[str]:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(url, serverSelectionTimeoutMS=5000)
    async with client:
        return await client["cqrs_privileges"].list_collection_names()


def with_password(url: str, password: str | None) -> str:
    """``url`` with another password; with None, anonymous (no login, no mechanism)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    if password is None:
        return urlunsplit(parts._replace(netloc=host, query=""))
    return urlunsplit(parts._replace(netloc=f"{parts.username}:{password}@{host}"))


async def test_the_read_side_wants_the_right_login(mongodb_url: str) -> None:
    assert urlsplit(mongodb_url).password, f"the read side's URL carries no login: {mongodb_url}"
    assert await probe(mongodb_url) is not None
    for wrong in (with_password(mongodb_url, "wrong-password"), with_password(mongodb_url, None)):
        with pytest.raises(OperationFailure, match="password authentication failed"):
            await probe(wrong)
