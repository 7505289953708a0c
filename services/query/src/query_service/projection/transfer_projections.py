"""Pure projections of a transfer's events: each sets fields of the transfer's one document, under
its version gate, so a duplicate or an out-of-order event changes nothing. No I/O.

requested (1) -> debited (2) -> completed (3), or failed (2 or 3; ``refunded`` when money had left
the source and came back). ``open`` is true until the transfer ends: the stuck list reads it.
"""

from datetime import datetime
from typing import Any, assert_never

from cqrs_contracts import (
    EventEnvelope,
    TransferCompleted,
    TransferDebited,
    TransferEvent,
    TransferFailed,
    TransferRequested,
)
from query_service.read_model import layout
from query_service.read_model.changes import TRANSFER_LIST, DocumentChange
from query_service.read_model.limits.no_decimal128 import minor_units


def transfer_change(envelope: EventEnvelope, event: TransferEvent) -> DocumentChange:
    """The change ``event`` makes to its transfer's document (a requested one joins the list)."""
    at = envelope.occurred_at
    fields = {**_fields(event, at), layout.UPDATED_AT: at}
    numbered = TRANSFER_LIST if isinstance(event, TransferRequested) else None
    doc_id = str(event.transfer_id)
    return DocumentChange(layout.TRANSFERS, doc_id, layout.VERSION, envelope.version, fields, numbered)


def _fields(event: TransferEvent, at: datetime) -> dict[str, Any]:
    if isinstance(event, TransferRequested):
        return {
            layout.FROM_ACCOUNT_ID: str(event.from_account_id),
            layout.TO_ACCOUNT_ID: str(event.to_account_id),
            layout.FROM_CUSTOMER_ID: str(event.from_customer_id),
            layout.TO_CUSTOMER_ID: str(event.to_customer_id),
            layout.CURRENCY: event.currency,
            layout.AMOUNT_MINOR: minor_units(event.amount, event.currency),
            layout.REFERENCE: event.reference,
            layout.STATUS: "requested",
            layout.REFUNDED: False,
            layout.REASON: None,
            _step("requested"): at,
            layout.REQUESTED_AT: at,
            layout.OPEN: True,
        }
    if isinstance(event, TransferDebited):
        return {layout.STATUS: "debited", _step("debited"): at}
    if isinstance(event, TransferCompleted):
        return {layout.STATUS: "completed", _step("completed"): at, layout.OPEN: False}
    if isinstance(event, TransferFailed):
        return {
            layout.STATUS: "failed",
            layout.REFUNDED: event.refunded,
            layout.REASON: event.reason,
            _step("failed"): at,
            layout.OPEN: False,
        }
    assert_never(event)


def _step(step: str) -> str:
    return f"{layout.STEPS}.{step}"
