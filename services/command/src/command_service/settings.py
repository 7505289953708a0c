"""The command service's settings (environment prefix CQRS_)."""

from pydantic import Field, PostgresDsn

from cqrs_shared.settings import BrokerSettings


class CommandSettings(BrokerSettings):
    postgres_dsn: PostgresDsn = Field(
        default=PostgresDsn("postgresql://cqrs_command:cqrs_command@127.0.0.1:5432/cqrs"),
        description="PostgreSQL DSN of the command side's database",
    )
    relay_poll_interval: float = Field(default=1.0, gt=0, le=60, description="seconds between outbox polls")
    relay_batch_size: int = Field(
        default=200, ge=1, le=10_000, description="events the outbox relay reads per round"
    )
    migrate_on_start: bool = Field(
        default=True,
        description="apply missing migrations at start (false where `command-service migrate` runs first)",
    )
    command_http_port: int = Field(
        default=8081, ge=0, le=65535, description="port of /healthz, /readyz, /metrics (0: any free port)"
    )
