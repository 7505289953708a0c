"""The command service's settings (environment prefix CQRS_)."""

from typing import Annotated

from pydantic import Field, PostgresDsn, field_validator

from command_service.grants import Grants
from cqrs_contracts import Command, ErrorCode
from cqrs_shared.messaging.parsing import Catalogue
from cqrs_shared.runtime.secret_files import Secret
from cqrs_shared.runtime.settings import BrokerSettings

COMMAND_TYPES = Catalogue[Command](Command, ErrorCode.UNKNOWN_COMMAND).types


class CommandSettings(BrokerSettings):
    postgres_dsn: Annotated[PostgresDsn, Secret()] = Field(
        default=PostgresDsn("postgresql://cqrs_command:cqrs_command@127.0.0.1:5432/cqrs"),
        description="PostgreSQL DSN of the command side's database (?sslmode=verify-full&sslrootcert=PATH)",
    )
    relay_poll_interval: float = Field(default=1.0, gt=0, le=60, description="seconds between outbox polls")
    relay_round_interval: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="seconds at least from the end of one outbox relay round to the start of the next "
        "while events keep coming (each round then carries more); an event after a quiet moment goes at "
        "once; 0: no pause",
    )
    relay_batch_size: int = Field(
        default=200, ge=1, le=10_000, description="events the outbox relay reads per round"
    )
    recent_states: int = Field(
        default=10_000,
        ge=0,
        le=1_000_000,
        description="streams whose state this process keeps after a commit or a load, so that the next "
        "command on one decides without a load (its append still checks the version); 0: always load",
    )
    migrate_on_start: bool = Field(
        default=True,
        description="apply missing migrations at start (false where `command-service migrate` runs first)",
    )
    allowed_commands: dict[str, list[str]] = Field(
        default_factory=dict,
        description='JSON {"user": ["Deposit", ...] or ["*"]}: which RabbitMQ users may send which '
        "commands; empty: any user may send any command",
    )
    event_readers: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description="RabbitMQ users outside the pair (subscribers) whose reads of the event store "
        "through cqrs.streams (ReadAll, ReadStream, ListStreams) are answered: each may read every "
        "event; anyone else there is refused `forbidden` (docs/subscribers.md)",
    )
    transfer_step_timeout: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="seconds a transfer's step may take before it is given again (then backing off, "
        "up to 8 times this)",
    )
    transfer_budget: float = Field(
        default=60.0,
        gt=0,
        le=86_400,
        description="seconds a transfer may take in all before it counts as stuck (cqrs_transfers_stuck)",
    )
    command_http_port: int = Field(
        default=8081, ge=0, le=65535, description="port of /healthz, /readyz, /metrics (0: any free port)"
    )

    @field_validator("allowed_commands")
    @classmethod
    def _known_commands(cls, table: dict[str, list[str]]) -> dict[str, list[str]]:
        Grants.parse(table, COMMAND_TYPES)
        return table

    def grants(self) -> Grants:
        return Grants.parse(self.allowed_commands, COMMAND_TYPES)
