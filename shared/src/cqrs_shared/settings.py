"""Settings from the environment (prefix CQRS_), read once at start-up; bad values fail loudly."""

import sys
from typing import Literal, TypeVar

from pydantic import AmqpDsn, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from cqrs_shared.messaging.retry import RetryPolicy


class BrokerSettings(BaseSettings):
    """What every participant needs: where RabbitMQ is and how to log."""

    # An empty variable means "the default": docker-compose.yml passes every setting as ${CQRS_X:-}.
    model_config = SettingsConfigDict(env_prefix="CQRS_", extra="ignore", frozen=True, env_ignore_empty=True)

    rabbitmq_url: AmqpDsn = Field(
        default=AmqpDsn("amqp://guest:guest@127.0.0.1:5672/"),
        description="AMQP URL of the broker",
    )
    log_level: str = Field(
        default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$", description="DEBUG, INFO, WARNING or ERROR"
    )
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto", description="json, text, or auto: JSON lines unless stderr is a terminal"
    )
    http_host: str = Field(
        default="127.0.0.1", description="address of /healthz, /readyz and /metrics (0.0.0.0 in containers)"
    )
    retry_attempts: int = Field(
        default=5,
        ge=1,
        le=20,
        description="attempts at a message that fails (not an outage) before it is parked",
    )
    retry_delay: float = Field(
        default=1.0, gt=0, le=3600, description="seconds before the first retry; doubles each attempt"
    )
    retry_max_delay: float = Field(default=60.0, gt=0, le=86_400, description="longest wait between retries")
    broker_grace: float = Field(
        default=30.0, gt=0, le=3600, description="seconds without the broker before a service exits"
    )
    prefetch: int = Field(default=64, ge=1, le=10_000, description="messages in flight per consumer")
    max_message_bytes: int = Field(
        default=65_536,
        ge=1024,
        le=16 * 1024 * 1024,
        description="largest message body taken; a larger one is refused before it is parsed",
    )

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(self.retry_attempts, self.retry_delay, self.retry_max_delay)


S = TypeVar("S", bound=BaseSettings)


def load(kind: type[S]) -> S:
    """Read settings once; a malformed variable stops the process with its name and the reason."""
    try:
        return kind()
    except ValidationError as error:
        for item in error.errors(include_url=False):
            name = "CQRS_" + "_".join(str(part) for part in item["loc"]).upper()
            print(f"configuration error: {name}: {item['msg']}", file=sys.stderr)
        raise SystemExit(2) from None
