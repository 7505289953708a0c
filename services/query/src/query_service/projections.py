"""Pure projections: what each event changes in which read document. No I/O.

Every change is gated on a version field of the document: it applies only on top of the
stream's previous version, which makes duplicates no-ops and exposes gaps.
"""

from dataclasses import dataclass, field
from typing import Any

from cqrs_shared.contracts import (
    CustomerCreated,
    CustomerDetailsEdited,
    CustomerLocaleChanged,
    CustomerMadePreferred,
    EventEnvelope,
)

CUSTOMERS = "customers"


@dataclass(frozen=True)
class DocumentChange:
    """Set ``fields`` on ``collection/doc_id`` when ``gate`` is ``version - 1``; then gate = version."""

    collection: str
    doc_id: str
    gate: str
    version: int
    fields: dict[str, Any] = field(default_factory=dict)


def fold_name(name: str) -> str:
    """The key of case-insensitive exact name lookup."""
    return name.strip().casefold()


def project(envelope: EventEnvelope) -> DocumentChange:
    event = envelope.event
    at = envelope.occurred_at
    fields: dict[str, Any]
    if isinstance(event, CustomerCreated):
        fields = {
            "name": event.name,
            "name_folded": fold_name(event.name),
            "locale": event.locale,
            "is_preferred": False,
            "created_at": at,
        }
    elif isinstance(event, CustomerMadePreferred):
        fields = {"is_preferred": True}
    elif isinstance(event, CustomerLocaleChanged):
        fields = {"locale": event.locale}
    elif isinstance(event, CustomerDetailsEdited):
        fields = {"name": event.name, "name_folded": fold_name(event.name), "locale": event.locale}
    fields["updated_at"] = at
    return DocumentChange(CUSTOMERS, str(envelope.stream_id), "version", envelope.version, fields)
