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
    AccountSummary,
    AccountView,
    CustomerView,
    StreamType,
    TransactionView,
)

Document = dict[str, Any]

CUSTOMERS: Final = "customers"
ACCOUNTS: Final = "accounts"
TRANSACTIONS: Final = "transactions"
LEDGER: Final = "ledger"

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
# one document; 4: the typed ledger beside the buckets.
LAYOUT: Final = "layout"
LAYOUT_VERSION: Final = 4

# Generations. A rebuild writes a new set of the collections above side by side with the ones queries
# read, then switches to it; generation 0 has the plain names, generation N the suffix "_N".
GENERATION_COLLECTIONS: Final = (CUSTOMERS, ACCOUNTS, TRANSACTIONS, LEDGER, COUNTERS)
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
}

# (collection, keys): name lookup pages by id; preferred customers page by bucket (history buckets
# are found by id; the ledger is ranged by id).
INDEXES: Final[tuple[tuple[str, list[tuple[str, int]]], ...]] = (
    (CUSTOMERS, [(NAME_FOLDED, ASCENDING), (ID, ASCENDING)]),
    (CUSTOMERS, [(PREFERRED_BUCKET, ASCENDING), (PREFERRED_SEQ, ASCENDING)]),
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
    """The transactions a bucket document holds, as (version, line), in no particular order."""
    items: dict[str, str] = (bucket or {}).get(ITEMS, {})
    recorded: dict[str, int] = (bucket or {}).get(RECORDED, {})
    return [(int(key[1:]), line) for key, line in items.items() if key in recorded]


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
    kind, amount, balance_after, at, *reference = line.split("|", 4)
    return TransactionView(
        version=version,
        kind=kind,
        amount=amount,
        balance_after=balance_after,
        at=at,
        reference="".join(reference),
    )
