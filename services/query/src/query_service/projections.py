"""Pure projections: what each event changes in which read documents. No I/O.

Every change is gated on a version field of its document: it applies only on top of the stream's
previous version, which makes duplicates no-ops and exposes gaps. An account event changes several
documents; they are listed so that the account document comes last: when it shows version N, the
customer's embedded account and the transaction history have N too (consistency tokens rely on it).
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from cqrs_shared.contracts import (
    AccountOpened,
    CustomerCreated,
    CustomerDetailsEdited,
    CustomerLocaleChanged,
    CustomerMadePreferred,
    EventEnvelope,
    MoneyDeposited,
    MoneyWithdrawn,
)
from cqrs_shared.contracts.money import in_currency
from query_service import layout


@dataclass(frozen=True)
class DocumentChange:
    """Set ``fields`` on ``collection/doc_id`` when ``gate`` is ``version - 1``; then gate = version.

    Version 1 creates the document (or fills one that exists without the gate field). A ``shared``
    document holds many such version-1 changes (a history bucket): it usually exists already.
    """

    collection: str
    doc_id: str
    gate: str
    version: int
    fields: dict[str, Any] = field(default_factory=dict)
    numbered: "Numbered | None" = None
    shared: bool = False


@dataclass(frozen=True)
class Numbered:
    """Put the document in a list that pages by bucket: the store sets ``seq_field`` to the next
    number of ``counter`` (0, 1, 2, ...) and ``bucket_field`` to that number // layout.BUCKET_SIZE.
    A change that turns out a duplicate or a gap spends a number: a bucket may hold fewer.

    While the store defers numbering (a rebuild), it sets ``waiting_field`` to when the document
    joined the list instead, and numbers the waiting ones in that order later."""

    counter: str
    seq_field: str
    bucket_field: str
    waiting_field: str

    def numbers(self, seq: int) -> dict[str, int]:
        """The fields of the document numbered ``seq``."""
        return {self.seq_field: seq, self.bucket_field: seq // layout.BUCKET_SIZE}


PREFERRED_LIST = Numbered(
    layout.PREFERRED_COUNTER, layout.PREFERRED_SEQ, layout.PREFERRED_BUCKET, layout.PREFERRED_AT
)


def fold_name(name: str) -> str:
    """The key of case-insensitive exact name lookup."""
    return name.strip().casefold()


def document_owner(envelope: EventEnvelope) -> UUID:
    """The customer whose document ``envelope`` writes: every account event writes it too.

    The projector applies one owner's events one at a time. Version gates stop stale writes on
    MongoDB, but a server that updates a document by reading and rewriting all of it (FerretDB v1)
    would let two concurrent writers of one document lose one of the writes. It is the key the
    events are partitioned by, so that across processes too one reader at a time applies them.
    """
    return envelope.partition_key


def project(envelope: EventEnvelope) -> list[DocumentChange]:
    event = envelope.event
    if isinstance(event, AccountOpened | MoneyDeposited | MoneyWithdrawn):
        return _account(envelope, event)
    fields = _customer_fields(event, envelope.occurred_at)
    fields[layout.UPDATED_AT] = envelope.occurred_at
    numbered = PREFERRED_LIST if isinstance(event, CustomerMadePreferred) else None
    doc_id = str(envelope.stream_id)
    return [DocumentChange(layout.CUSTOMERS, doc_id, layout.VERSION, envelope.version, fields, numbered)]


def _customer_fields(
    event: CustomerCreated | CustomerMadePreferred | CustomerLocaleChanged | CustomerDetailsEdited,
    at: datetime,
) -> dict[str, Any]:
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
    return {layout.NAME: event.name, layout.NAME_FOLDED: fold_name(event.name), layout.LOCALE: event.locale}


def _account(
    envelope: EventEnvelope, event: AccountOpened | MoneyDeposited | MoneyWithdrawn
) -> list[DocumentChange]:
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
    else:
        balance = str(event.balance)
        account = {layout.BALANCE: balance}
        kind = "deposit" if isinstance(event, MoneyDeposited) else "withdrawal"
        line = layout.encode_transaction(kind, str(event.amount), balance, at, event.reference)
        fields = {layout.ACCOUNT_ID: account_id, layout.history_item(version): line}
        bucket = layout.history_bucket(account_id, layout.bucket_of(version))
        gate = layout.history_gate(version)
        changes = [DocumentChange(layout.TRANSACTIONS, bucket, gate, 1, fields, shared=True)]
        timestamps = {layout.UPDATED_AT: at}
    summary = {
        layout.embedded_account(account_id, layout.CURRENCY): event.currency,
        layout.embedded_account(account_id, layout.BALANCE): balance,
    }
    gate = layout.embedded_account(account_id, layout.VERSION)
    changes.append(DocumentChange(layout.CUSTOMERS, str(event.customer_id), gate, version, summary))
    changes.append(DocumentChange(layout.ACCOUNTS, account_id, layout.VERSION, version, account | timestamps))
    return changes
