"""Pure projections: what each event changes in which read documents. No I/O.

Every change is gated on a version field of its document: it applies only on top of the stream's
previous version, which makes duplicates no-ops and exposes gaps. A transfer's events change its
own document only (transfer_projections.py). An account event changes several
documents; they are listed so that the account document comes last: when it shows version N, the
customer's embedded account and the transaction history have N too (consistency tokens rely on it).
"""

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, assert_never
from uuid import UUID

from cqrs_contracts import (
    AccountEvent,
    AccountOpened,
    CustomerCreated,
    CustomerDetailsEdited,
    CustomerEvent,
    CustomerLocaleChanged,
    CustomerMadePreferred,
    EventEnvelope,
    MoneyDeposited,
    MoneyWithdrawn,
    TransactionView,
    TransferEvent,
)
from cqrs_contracts.money import in_currency
from query_service.projection.transfer_projections import transfer_change
from query_service.read_model import layout
from query_service.read_model.changes import PREFERRED_LIST, DocumentChange
from query_service.read_model.limits.no_decimal128 import ledger_fields


def fold_name(name: str) -> str:
    """The key of case-insensitive exact name lookup."""
    return name.strip().casefold()


def document_owner(envelope: EventEnvelope) -> UUID:
    """The customer whose document ``envelope`` writes: every account event writes it too (a
    transfer's events write only the transfer's document: their key is the transfer).

    The projector applies one owner's events one at a time. Version gates stop stale writes on
    MongoDB, but a server that updates a document by reading and rewriting all of it (FerretDB v1)
    would let two concurrent writers of one document lose one of the writes. It is the key the
    events are partitioned by, so that across processes too one reader at a time applies them.
    """
    return envelope.partition_key


def project(envelope: EventEnvelope) -> list[DocumentChange]:
    event = envelope.event
    if isinstance(event, AccountEvent):
        return _account(envelope, event)
    if isinstance(event, TransferEvent):
        return [transfer_change(envelope, event)]
    fields = _customer_fields(event, envelope.occurred_at)
    fields[layout.UPDATED_AT] = envelope.occurred_at
    numbered = PREFERRED_LIST if isinstance(event, CustomerMadePreferred) else None
    doc_id = str(envelope.stream_id)
    return [DocumentChange(layout.CUSTOMERS, doc_id, layout.VERSION, envelope.version, fields, numbered)]


def _customer_fields(event: CustomerEvent, at: datetime) -> dict[str, Any]:
    if isinstance(event, CustomerCreated):
        return {
            layout.NAME: event.name,
            layout.NAME_FOLDED: fold_name(event.name),
            layout.LOCALE: event.locale,
            layout.IS_PREFERRED: False,
            layout.CREATED_AT: at,
        }
    if isinstance(event, CustomerMadePreferred):
        return {layout.IS_PREFERRED: True}
    if isinstance(event, CustomerLocaleChanged):
        return {layout.LOCALE: event.locale}
    if isinstance(event, CustomerDetailsEdited):
        return {
            layout.NAME: event.name,
            layout.NAME_FOLDED: fold_name(event.name),
            layout.LOCALE: event.locale,
        }
    assert_never(event)


def _account(envelope: EventEnvelope, event: AccountEvent) -> list[DocumentChange]:
    account_id, version, at = str(event.account_id), envelope.version, envelope.occurred_at
    if isinstance(event, AccountOpened):
        balance = str(in_currency(Decimal(0), event.currency))
        account = {
            layout.CUSTOMER_ID: str(event.customer_id),
            layout.CURRENCY: event.currency,
            layout.BALANCE: balance,
        }
        changes: list[DocumentChange] = []
        timestamps = {layout.OPENED_AT: at, layout.UPDATED_AT: at}
    elif isinstance(event, MoneyDeposited | MoneyWithdrawn):
        balance = str(event.balance)
        account = {layout.BALANCE: balance}
        kind: Literal["deposit", "withdrawal"] = (
            "deposit" if isinstance(event, MoneyDeposited) else "withdrawal"
        )
        line = layout.encode_transaction(kind, str(event.amount), balance, at, event.reference)
        fields = {layout.ACCOUNT_ID: account_id, layout.history_item(version): line}
        if event.transfer is not None:
            leg = event.transfer
            fields[layout.history_leg(version)] = layout.encode_leg(
                str(leg.transfer_id), str(leg.counterpart), leg.step
            )
        bucket = layout.history_bucket(account_id, layout.bucket_of(version))
        gate = layout.history_gate(version)
        changes = [
            DocumentChange(layout.TRANSACTIONS, bucket, gate, 1, fields, shared=True),
            _ledger_entry(envelope, event, kind),
        ]
        timestamps = {layout.UPDATED_AT: at}
    else:
        assert_never(event)
    summary = {
        layout.embedded_account(account_id, layout.CURRENCY): event.currency,
        layout.embedded_account(account_id, layout.BALANCE): balance,
    }
    gate = layout.embedded_account(account_id, layout.VERSION)
    # An opening fills the customer's document, which its own events made first (one document
    # owner): the store updates it rather than first trying an insert that fails.
    customer_id, opening = str(event.customer_id), version == 1
    changes.append(DocumentChange(layout.CUSTOMERS, customer_id, gate, version, summary, fills=opening))
    changes.append(DocumentChange(layout.ACCOUNTS, account_id, layout.VERSION, version, account | timestamps))
    return changes


def _ledger_entry(
    envelope: EventEnvelope, event: MoneyDeposited | MoneyWithdrawn, kind: str
) -> DocumentChange:
    """The transaction as a typed document of its own (layout.LEDGER), written once."""
    view = TransactionView(
        version=envelope.version,
        kind=kind,
        amount=event.amount,
        balance_after=event.balance,
        at=envelope.occurred_at,
        reference=event.reference,
        transfer_id=None if event.transfer is None else event.transfer.transfer_id,
        counterpart=None if event.transfer is None else event.transfer.counterpart,
    )
    account_id = str(event.account_id)
    fields = ledger_fields(account_id, str(event.customer_id), event.currency, view)
    doc_id = layout.ledger_entry(account_id, envelope.version)
    return DocumentChange(layout.LEDGER, doc_id, layout.RECORDED, 1, fields)
