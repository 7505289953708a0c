"""The query service's settings (environment prefix CQRS_)."""

from typing import Annotated

from pydantic import Field, MongoDsn

from cqrs_client.messaging.topology import MAX_PARTITIONS
from cqrs_shared.runtime.secret_files import Secret
from cqrs_shared.runtime.settings import BrokerSettings


class QuerySettings(BrokerSettings):
    mongodb_url: Annotated[MongoDsn, Secret()] = Field(
        default=MongoDsn("mongodb://127.0.0.1:27017/"), description="MongoDB URL of the read side"
    )
    mongodb_database: str = Field(
        default="cqrs_read", min_length=1, max_length=63, description="database of the read model"
    )
    max_wait: float = Field(
        default=5.0, gt=0, le=60, description="longest a query waits for a projection to catch up"
    )
    read_cache_size: int = Field(
        default=20_000,
        ge=0,
        le=1_000_000,
        description="views (customers, accounts) kept in memory while this replica alone projects "
        "every event partition (0: none)",
    )
    event_partitions: int = Field(
        default=1,
        ge=1,
        le=MAX_PARTITIONS,
        description="partition queues of the events (1: one queue); replicas share them, each "
        "customer's events in one; the same on every replica (docs/scaling.md, to change it)",
    )
    operators: list[str] = Field(
        default=["cqrs-admin"],
        max_length=100,
        description="RabbitMQ users whose operations (rebuild, status, verify) are answered",
    )
    repair_timeout: float = Field(default=5.0, gt=0, le=60, description="RPC timeout of a gap repair")
    query_http_port: int = Field(
        default=8082, ge=0, le=65535, description="port of /healthz, /readyz, /metrics (0: any free port)"
    )
    ready_max_lag: float = Field(
        default=30.0, gt=0, le=86_400, description="projection lag (s) beyond which /readyz says not ready"
    )
