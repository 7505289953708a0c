"""Settings from the environment (prefix CQRS_), read once at start-up; bad values fail loudly."""

import os
import sys
from typing import Annotated, Literal, TypeVar

from pydantic import AfterValidator, AmqpDsn, Field, TypeAdapter, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from cqrs_client.messaging.channels import broker_urls, login
from cqrs_client.messaging.topology import QueueKind, QueueType
from cqrs_shared.messaging.retry import RetryPolicy
from cqrs_shared.runtime.secret_files import Secret, SecretFileError, SecretFiles, file_variable_in_use

_AMQP_URL = TypeAdapter(AmqpDsn)


def _valid_urls(text: str) -> str:
    urls = broker_urls(text)
    if not urls:
        raise ValueError("no AMQP URL given")
    for url in urls:
        _AMQP_URL.validate_python(url)
    # A service publishes its retries and dead letters as its user (messaging/senders.py): one user.
    if len({login(url) for url in urls}) > 1:
        raise ValueError("every broker URL must name the same user")
    return ",".join(urls)


# An AMQP URL, or several separated by commas: the nodes of one cluster, tried in turn.
BrokerUrls = Annotated[str, AfterValidator(_valid_urls)]


class BrokerSettings(BaseSettings):
    """What every participant needs: where RabbitMQ is and how to log."""

    # An empty variable means "the default": docker-compose.yml passes every setting as ${CQRS_X:-}.
    model_config = SettingsConfigDict(env_prefix="CQRS_", extra="ignore", frozen=True, env_ignore_empty=True)

    # No default: a service must be told which user it is (docs/security.md: Users and permissions); guest,
    # RabbitMQ's own default, exists nowhere this project provisions.
    rabbitmq_url: Annotated[BrokerUrls, Secret()] = Field(
        description="AMQP URL of the broker, with this participant's user and the vhost "
        "(amqp://cqrs-command:PASSWORD@HOST:5672/cqrs; amqps://...?cafile=PATH for TLS); "
        "for a cluster, one URL per node separated by commas: a lost connection goes to the next",
    )
    queue_type: QueueType = Field(
        default="classic",
        description="classic (one broker node) or quorum (a cluster: queues replicated on its nodes)",
    )
    delivery_limit: int = Field(
        default=200,
        ge=1,
        le=100_000,
        description="quorum queues: deliveries of a message (requeues included) before it is dead-lettered",
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
    drain_seconds: float = Field(
        default=30.0,
        ge=1,
        le=600,
        description="longest stop after SIGTERM: in-flight work finishes within it, or the process exits"
        " and the broker redelivers what it held",
    )
    prefetch: int = Field(default=64, ge=1, le=10_000, description="messages in flight per consumer")
    max_message_bytes: int = Field(
        default=65_536,
        ge=1024,
        # The brokers' max_message_size (infra/provision.sh, compose): prefetch x this is what a
        # hostile sender can make a consumer hold in memory (docs/threat-model.md).
        le=1_048_576,
        description="largest message body taken; a larger one is refused before it is parsed",
    )

    def queue_kind(self) -> QueueKind:
        return QueueKind(self.queue_type, self.delivery_limit)

    def broker_urls(self) -> list[str]:
        return broker_urls(self.rabbitmq_url)

    def broker_user(self) -> str:
        """The RabbitMQ user this participant is (every URL names the same one)."""
        return login(self.broker_urls()[0])

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(self.retry_attempts, self.retry_delay, self.retry_max_delay)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # A secret comes from CQRS_<NAME> or from the file CQRS_<NAME>_FILE names, never from both.
        return init_settings, env_settings, SecretFiles(settings_cls), dotenv_settings, file_secret_settings


S = TypeVar("S", bound=BaseSettings)


# What an action that never talks to RabbitMQ (migrate, healthcheck) is given for its broker URL.
NO_BROKER = "amqp://unused.invalid/"


def load(kind: type[S], *, broker: bool = True) -> S:
    """Read settings once; a malformed variable stops the process with its name and the reason.

    ``broker=False``: for an action that does not use RabbitMQ, whose URL need not be set.
    """
    try:
        return kind() if broker else kind(rabbitmq_url=NO_BROKER)
    except SecretFileError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    except ValidationError as error:
        for item in error.errors(include_url=False):
            field = "_".join(str(part) for part in item["loc"])
            # A value read from a file is named by its _FILE variable (its content is never shown).
            name = file_variable_in_use(kind, field, os.environ) or f"CQRS_{field.upper()}"
            why = "not set (required)" if item["type"] == "missing" else item["msg"]
            print(f"configuration error: {name}: {why}", file=sys.stderr)
        raise SystemExit(2) from None
