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

CUSTOMERS = "customers"
ACCOUNTS = "accounts"
TRANSACTIONS = "transactions"

# Where the view keeps each stream's position: (collection, version field).
POSITIONS: dict[str, tuple[str, str]] = {"customer": (CUSTOMERS, "version"), "account": (ACCOUNTS, "version")}


@dataclass(frozen=True)
class DocumentChange:
    """Set ``fields`` on ``collection/doc_id`` when ``gate`` is ``version - 1``; then gate = version.

    Version 1 creates the document (or fills one that exists without the gate field).
    """

    collection: str
    doc_id: str
    gate: str
    version: int
    fields: dict[str, Any] = field(default_factory=dict)


def fold_name(name: str) -> str:
    """The key of case-insensitive exact name lookup."""
    return name.strip().casefold()


def document_owner(envelope: EventEnvelope) -> UUID:
    """The customer whose document ``envelope`` writes: every account event writes it too.

    The projector applies one owner's events one at a time. Version gates stop stale writes on
    MongoDB, but a server that updates a document by reading and rewriting all of it (FerretDB v1)
    would let two concurrent writers of one document lose one of the writes.
    """
    event = envelope.event
    if isinstance(event, AccountOpened | MoneyDeposited | MoneyWithdrawn):
        return event.customer_id
    return envelope.stream_id


def project(envelope: EventEnvelope) -> list[DocumentChange]:
    event = envelope.event
    if isinstance(event, AccountOpened | MoneyDeposited | MoneyWithdrawn):
        return _account(envelope, event)
    fields = _customer_fields(event, envelope.occurred_at)
    fields["updated_at"] = envelope.occurred_at
    return [DocumentChange(CUSTOMERS, str(envelope.stream_id), "version", envelope.version, fields)]


def _customer_fields(
    event: CustomerCreated | CustomerMadePreferred | CustomerLocaleChanged | CustomerDetailsEdited,
    at: datetime,
) -> dict[str, Any]:
    if isinstance(event, CustomerCreated):
        return {
            "name": event.name,
            "name_folded": fold_name(event.name),
            "locale": event.locale,
            "is_preferred": False,
            "created_at": at,
        }
    if isinstance(event, CustomerMadePreferred):
        return {"is_preferred": True}
    if isinstance(event, CustomerLocaleChanged):
        return {"locale": event.locale}
    return {"name": event.name, "name_folded": fold_name(event.name), "locale": event.locale}


def _account(
    envelope: EventEnvelope, event: AccountOpened | MoneyDeposited | MoneyWithdrawn
) -> list[DocumentChange]:
    account_id, version, at = str(event.account_id), envelope.version, envelope.occurred_at
    if isinstance(event, AccountOpened):
        balance = str(in_currency(Decimal(0), event.currency))
        account = {"customer_id": str(event.customer_id), "currency": event.currency, "balance": balance}
        changes: list[DocumentChange] = []
        timestamps = {"opened_at": at, "updated_at": at}
    else:
        balance = str(event.balance)
        account = {"balance": balance}
        kind = "deposit" if isinstance(event, MoneyDeposited) else "withdrawal"
        record = {
            "account_id": account_id,
            "account_version": version,
            "kind": kind,
            "amount": str(event.amount),
            "balance_after": balance,
            "at": at,
        }
        changes = [DocumentChange(TRANSACTIONS, f"{account_id}:{version}", "recorded", 1, record)]
        timestamps = {"updated_at": at}
    embedded = f"accounts.{account_id}"
    summary = {f"{embedded}.currency": event.currency, f"{embedded}.balance": balance}
    changes.append(DocumentChange(CUSTOMERS, str(event.customer_id), f"{embedded}.version", version, summary))
    changes.append(DocumentChange(ACCOUNTS, account_id, "version", version, account | timestamps))
    return changes
