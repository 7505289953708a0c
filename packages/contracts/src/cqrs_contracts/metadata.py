"""The metadata every message carries (ARCHITECTURE.md invariant 6), whatever its body."""

from datetime import UTC, datetime
from uuid import UUID, uuid4

from pydantic import Field

from cqrs_contracts.base import Contract

SCHEMA_VERSION = 1


def _now() -> datetime:
    return datetime.now(UTC)


class Metadata(Contract):
    """Who sent what, in reply to what, as part of which conversation and trace."""

    message_id: UUID = Field(default_factory=uuid4)
    type: str
    schema_version: int = SCHEMA_VERSION
    correlation_id: str = Field(default_factory=lambda: str(uuid4()))
    causation_id: str | None = None
    timestamp: datetime = Field(default_factory=_now)
    traceparent: str | None = None
