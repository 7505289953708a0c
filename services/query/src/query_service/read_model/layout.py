"""The read model's document layout: collections, field paths, indexes, and stored document -> view.

The only module that spells a field of a stored document. It reads documents into the contract views
themselves: they are what the queries reply, frozen and validated, so a dataclass twin adds nothing.
"""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

from pymongo import ASCENDING

from cqrs_contracts import (
    ACCOUNT,
    CUSTOMER,
    TRANSFER,
    AccountSummary,
    AccountView,
    CustomerView,
    StreamType,
    TransactionView,
    TransferStepView,
    TransferView,
)

Document = dict[str, Any]

CUSTOMERS: Final = "customers"
ACCOUNTS: Final = "accounts"
TRANSACTIONS: Final = "transactions"
LEDGER: Final = "ledger"
TRANSFERS: Final = "transfers"

# Every document: its id as text (a UUID's, or "<account id>:<version>" for a transaction).
ID: Final = "_id"
# customers and accounts: the version of the stream last applied (the gate of version-gated updates).
VERSION: Final = "version"
UPDATED_AT: Final = "updated_at"
CURRENCY: Final = "currency"
BALANCE: Final = "balance"  # money as text, in the currency's digits, so it stays exact

# customers/<customer id>, with each account embedded as accounts.<account id>.{currency,balance,version}
NAME: Final = "name"
NAME_FOLDED: Final = "name_folded"
LOCALE: Final = "locale"
IS_PREFERRED: Final = "is_preferred"
CREATED_AT: Final = "created_at"
EMBEDDED_ACCOUNTS: Final = "accounts"

# accounts/<account id>
CUSTOMER_ID: Final = "customer_id"
OPENED_AT: Final = "opened_at"

# transactions/<account id>/<bucket>: a bucket of an account's history, BUCKET_SIZE transactions at
# most, written once each: items.v<version> holds one as a line of text ("kind|amount|balance
# after|at|reference", see encode_transaction), recorded.v<version> is its gate. A page of history
# reads one or two of these however long the history grows; text, because the server's cost of a
# document grows with its values (measured on FerretDB: 50 transactions as sub-documents 3.6 ms,
# as lines 1.4 ms).
ACCOUNT_ID: Final = "account_id"
ITEMS: Final = "items"
RECORDED: Final = "recorded"
# ledger/<account id>:<version, 10 digits>: one document per transaction, typed, for MongoDB users
# and reporting tools (the queries page the buckets above): account_id, customer_id, version (an
# int), kind, amount and balance after as whole minor units of currency (limits/no_decimal128.py),
# at (a date), reference; recorded is its gate (written once).
LEDGER_VERSION: Final = "version"
AMOUNT_MINOR: Final = "amount_minor"
BALANCE_AFTER_MINOR: Final = "balance_after_minor"
REFERENCE: Final = "reference"
# A deposit or withdrawal that was a step of a transfer: the bucket keeps legs.v<version> =
# "<transfer id>|<counterpart>|<step>" beside its line (lines written before transfers read on as
# they were); its ledger document has transfer_id and counterpart (null otherwise).
LEGS: Final = "legs"
TRANSFER_ID: Final = "transfer_id"
COUNTERPART: Final = "counterpart"

# transfers/<transfer id>: one document per transfer, typed: from_/to_account_id, from_/to_customer_id,
# currency, amount_minor (int64 minor units, limits/no_decimal128.py), reference, status (requested,
# debited, completed, failed), refunded, reason, steps.<step> = when its event was committed (a
# sub-document keyed by step: each event sets its own with $set under the version gate, where an
# array would need a read or a $push), requested_at, updated_at, version. ``open`` is true while
# the transfer is requested or debited (the stuck list reads it by equality,
# limits/transfer_lists.py); transfer_seq and transfer_bucket number the transfers in the order
# they were requested (newest first pages by bucket, as the preferred customers do).
FROM_ACCOUNT_ID: Final = "from_account_id"
TO_ACCOUNT_ID: Final = "to_account_id"
FROM_CUSTOMER_ID: Final = "from_customer_id"
TO_CUSTOMER_ID: Final = "to_customer_id"
STATUS: Final = "status"
REFUNDED: Final = "refunded"
REASON: Final = "reason"
STEPS: Final = "steps"
REQUESTED_AT: Final = "requested_at"
OPEN: Final = "open"
TRANSFER_SEQ: Final = "transfer_seq"
TRANSFER_BUCKET: Final = "transfer_bucket"
TRANSFER_COUNTER: Final = "transfers"
# Only while a rebuild defers numbering: when the transfer was requested.
TRANSFER_LISTED_AT: Final = "transfer_listed_at"
# The steps in the order a transfer takes them (a transfer takes each at most once).
STEP_ORDER: Final = ("requested", "debited", "completed", "failed")


def ledger_entry(account_id: str, version: int) -> str:
    """The id of the ledger document of ``version``: ids sort as (account, version), so an account's
    ledger is a range of ``_id`` in version order with no index of its own to keep up."""
    return f"{account_id}:{version:010d}"


# Layouts 1 and 2 kept one document per transaction with these fields (upgrade.py reads them).
ACCOUNT_VERSION: Final = "account_version"
KIND: Final = "kind"
AMOUNT: Final = "amount"
BALANCE_AFTER: Final = "balance_after"
AT: Final = "at"

# Pages that cost the same however large the read model grows. A page is read by equality on a
# bucket of at most BUCKET_SIZE documents, never by a range or a sort over everything that matches
# (the MongoDB-compatible server this project runs on pushes only equality down, and sorts in memory).
BUCKET_SIZE: Final = 50
HISTORY_BUCKET: Final = "history_bucket"  # layout 2 only: "<account id>:<account version // BUCKET_SIZE>"
PREFERRED_SEQ: Final = "preferred_seq"  # 0, 1, 2, ...: the order in which customers became preferred
PREFERRED_BUCKET: Final = "preferred_bucket"  # preferred_seq // BUCKET_SIZE
# Only while a rebuild defers numbering (equality_filters.NumberedLists): when the customer became preferred.
PREFERRED_AT: Final = "preferred_at"
COUNTERS: Final = "counters"  # {_id: counter name, value: the last number handed out}
PREFERRED_COUNTER: Final = "preferred"
COUNTER_VALUE: Final = "value"


def claim(counter: str, number: int) -> str:
    """The id of the document that claims ``number`` of ``counter`` (ClaimedNumbers): "preferred:17"."""
    return f"{counter}:{number}"


# The layout the documents follow, kept in COUNTERS as {_id: "layout", value: N} (upgrade.py).
# 1: before the buckets; 2: history and preferred customers page by bucket; 3: a history bucket is
# one document; 4: the typed ledger beside the buckets. Transfers (their collection, the legs in
# the buckets, the ledger's transfer fields) need no layout of their own: they only add, and no
# document of layout 4 lacks anything (no transfer event existed to project); the transfers'
# indexes are made at start (ReadStore.ensure_indexes), like every index.
LAYOUT: Final = "layout"
LAYOUT_VERSION: Final = 4

# Generations. A rebuild writes a new set of the collections above side by side with the ones queries
# read, then switches to it; generation 0 has the plain names, generation N the suffix "_N".
GENERATION_COLLECTIONS: Final = (CUSTOMERS, ACCOUNTS, TRANSACTIONS, LEDGER, TRANSFERS, COUNTERS)
# Outside every generation: {_id: "generation", value: N} (what queries read) and {_id: "rebuild", ...}.
PROJECTION: Final = "projection"
GENERATION: Final = "generation"
REBUILD: Final = "rebuild"


def named(collection: str, generation: int) -> str:
    """The name of ``collection`` in ``generation``."""
    return collection if generation == 0 else f"{collection}_{generation}"


def generation_of(name: str) -> int | None:
    """The generation a collection belongs to; None for one outside every generation."""
    base, _, suffix = name.rpartition("_")
    if base in GENERATION_COLLECTIONS and suffix.isdigit():
        return int(suffix)
    return 0 if name in GENERATION_COLLECTIONS else None


# Where the view keeps each stream's position: (collection, version field).
POSITIONS: Final[dict[StreamType, tuple[str, str]]] = {
    CUSTOMER: (CUSTOMERS, VERSION),
    ACCOUNT: (ACCOUNTS, VERSION),
    TRANSFER: (TRANSFERS, VERSION),
}

# (collection, keys): name lookup pages by id; preferred customers and transfers page by bucket;
# stuck transfers are the open ones (history buckets are found by id; the ledger is ranged by id).
INDEXES: Final[tuple[tuple[str, list[tuple[str, int]]], ...]] = (
    (CUSTOMERS, [(NAME_FOLDED, ASCENDING), (ID, ASCENDING)]),
    (CUSTOMERS, [(PREFERRED_BUCKET, ASCENDING), (PREFERRED_SEQ, ASCENDING)]),
    (TRANSFERS, [(TRANSFER_BUCKET, ASCENDING), (TRANSFER_SEQ, ASCENDING)]),
    (TRANSFERS, [(OPEN, ASCENDING), (TRANSFER_SEQ, ASCENDING)]),
)


def field_of(doc: Document | None, path: str) -> Any:
    """The value at a dotted ``path`` of ``doc``; None where any part is missing."""
    value: Any = doc
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def exists(where: Document) -> Document:
    """``where``, narrowed to documents whose own stream created them.

    An account event can create its customer's document before the customer's first event arrives;
    until then it has no version and is no customer.
    """
    return {**where, VERSION: {"$exists": True}}


def embedded_account(account_id: str, field: str) -> str:
    """The dotted path of ``field`` of an account embedded in its customer's document."""
    return f"{EMBEDDED_ACCOUNTS}.{account_id}.{field}"


def history_bucket(account_id: str, bucket: int) -> str:
    """The id of the bucket of an account's history that holds versions ``bucket * BUCKET_SIZE`` and up."""
    return f"{account_id}/{bucket}"


def bucket_of(version: int) -> int:
    return version // BUCKET_SIZE


def history_item(version: int) -> str:
    """The dotted path of the transaction at ``version`` in its bucket."""
    return f"{ITEMS}.v{version}"


def history_gate(version: int) -> str:
    return f"{RECORDED}.v{version}"


def encode_transaction(kind: str, amount: str, balance_after: str, at: datetime, reference: str = "") -> str:
    """One transaction as a line of text; the time in UTC to the millisecond, as BSON would keep it.
    The reference comes last: it may hold "|" itself, and lines written before it existed end at the time.
    """
    when = at.astimezone(UTC).isoformat(timespec="milliseconds")
    return "|".join((kind, amount, balance_after, when, *([reference] if reference else [])))


def history_items(bucket: Document | None) -> list[tuple[int, str]]:
    """The transactions a bucket document holds, as (version, line), in no particular order; a
    transfer's step has its leg appended after a newline (see history_leg)."""
    items: dict[str, str] = (bucket or {}).get(ITEMS, {})
    recorded: dict[str, int] = (bucket or {}).get(RECORDED, {})
    legs: dict[str, str] = (bucket or {}).get(LEGS, {})
    return [
        (int(key[1:]), f"{line}\n{legs[key]}" if key in legs else line)
        for key, line in items.items()
        if key in recorded
    ]


def history_leg(version: int) -> str:
    """The dotted path of the transfer leg of the transaction at ``version`` in its bucket."""
    return f"{LEGS}.v{version}"


def encode_leg(transfer_id: str, counterpart: str, step: str) -> str:
    return "|".join((transfer_id, counterpart, step))


def customer_view(doc: Document) -> CustomerView:
    accounts = sorted(
        (
            AccountSummary(id=UUID(account_id), currency=a[CURRENCY], balance=a[BALANCE], version=a[VERSION])
            for account_id, a in doc.get(EMBEDDED_ACCOUNTS, {}).items()
            if VERSION in a
        ),
        key=lambda account: str(account.id),
    )
    totals: dict[str, Decimal] = {}
    for account in accounts:
        totals[account.currency] = totals.get(account.currency, Decimal(0)) + account.balance
    return CustomerView(
        id=doc[ID],
        name=doc[NAME],
        locale=doc[LOCALE],
        is_preferred=doc[IS_PREFERRED],
        version=doc[VERSION],
        created_at=doc[CREATED_AT],
        updated_at=doc[UPDATED_AT],
        accounts=accounts,
        totals=totals,
    )


def account_view(doc: Document) -> AccountView:
    return AccountView(
        id=doc[ID],
        customer_id=doc[CUSTOMER_ID],
        currency=doc[CURRENCY],
        balance=doc[BALANCE],
        version=doc[VERSION],
        opened_at=doc[OPENED_AT],
        updated_at=doc[UPDATED_AT],
    )


def transaction_view(version: int, line: str) -> TransactionView:
    """A line of history_items: the transaction, and after a newline its transfer leg, if any (a
    reference is one line: the contracts refuse control characters in it)."""
    line, _, leg = line.partition("\n")
    kind, amount, balance_after, at, *reference = line.split("|", 4)
    transfer_id, counterpart = leg.split("|")[:2] if leg else (None, None)
    return TransactionView(
        version=version,
        kind=kind,
        amount=amount,
        balance_after=balance_after,
        at=at,
        reference="".join(reference),
        transfer_id=transfer_id,
        counterpart=counterpart,
    )


def transfer_view(doc: Document, amount: Decimal) -> TransferView:
    """A transfer document as its view, with ``amount`` read from its minor units
    (limits/no_decimal128.transfer_of does both)."""
    steps: dict[str, Any] = doc.get(STEPS, {})
    return TransferView(
        id=doc[ID],
        from_account_id=doc[FROM_ACCOUNT_ID],
        to_account_id=doc[TO_ACCOUNT_ID],
        currency=doc[CURRENCY],
        amount=amount,
        reference=doc.get(REFERENCE, ""),
        status=doc[STATUS],
        refunded=doc.get(REFUNDED, False),
        reason=doc.get(REASON),
        steps=[TransferStepView(step=step, at=steps[step]) for step in STEP_ORDER if step in steps],
        requested_at=doc[REQUESTED_AT],
        updated_at=doc[UPDATED_AT],
        version=doc[VERSION],
    )
