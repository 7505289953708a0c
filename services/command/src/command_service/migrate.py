"""Apply migrations/*.sql in order, once each, safely when several replicas start at once."""

import hashlib
import logging
from dataclasses import dataclass
from importlib import resources

import asyncpg

from command_service.errors import MigrationError
from command_service.store import Connection

log = logging.getLogger(__name__)

# pg_advisory_lock key: "cqrsmigr" as an int64, so replicas take turns migrating.
MIGRATION_LOCK = 0x637172736D696772


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available() -> list[Migration]:
    """The migrations shipped with the code, by the number that starts each file name."""
    found = []
    for entry in resources.files("command_service.migrations").iterdir():
        if entry.name.endswith(".sql"):
            number, _, _ = entry.name.partition("_")
            found.append(Migration(int(number), entry.name, entry.read_text()))
    return sorted(found, key=lambda migration: migration.version)


async def migrate(conn: Connection) -> list[str]:
    """Apply what is missing; return the names applied. Fails if an applied file was changed."""
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY,"
            " name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
        applied = {row["version"]: row["checksum"] for row in rows}
        done = []
        for migration in available():
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    raise MigrationError(f"{migration.name} changed after it was applied")
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            log.info("applied migration %s", migration.name)
            done.append(migration.name)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)


async def missing(conn: Connection | asyncpg.Pool) -> list[str]:
    """Names of the migrations the code ships that the database has not applied (readiness)."""
    rows = await conn.fetch("SELECT version FROM schema_migrations")
    applied = {row["version"] for row in rows}
    return [migration.name for migration in available() if migration.version not in applied]
