"""The metadata every message carries (ARCHITECTURE.md invariant 6), whatever its body."""

from datetime import UTC, datetime
from uuid import UUID, uuid4

from pydantic import Field

from cqrs_shared.contracts.base import Contract

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

    def caused(self, type_: str, message_id: UUID | None = None) -> "Metadata":
        """Metadata of a message this one causes: same correlation and trace, this one as cause."""
        return Metadata(
            message_id=message_id or uuid4(),
            type=type_,
            correlation_id=self.correlation_id,
            causation_id=str(self.message_id),
            traceparent=self.traceparent,
        )
