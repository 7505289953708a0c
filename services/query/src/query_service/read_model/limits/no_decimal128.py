"""FerretDB v1 limit: no Decimal128. Inserting one makes FerretDB v1.24 close the connection
(tests/integration/test_ferretdb_limits.py), so money a reporting tool reads as a number is stored
as whole minor units (cents for EUR, yen for JPY: the currency's digits, contracts.currencies), an
int64 beside the document's ``currency``. Exact, and summable by any tool. On MongoDB, Decimal128.

minor_units(Decimal("12.50"), "EUR")   # 1250
from_minor_units(1250, "EUR")          # Decimal("12.50")
"""

from decimal import Decimal

from cqrs_contracts import TransactionView, TransferView
from cqrs_contracts.currencies import MINOR_UNITS, canonical_currency
from cqrs_contracts.money import in_currency
from query_service.read_model import layout
from query_service.read_model.layout import Document


def _digits(currency: str) -> int:
    return MINOR_UNITS[canonical_currency(currency)]


def minor_units(amount: Decimal, currency: str) -> int:
    """``amount`` in whole minor units of ``currency`` (ValueError if it has more digits than those)."""
    return int(in_currency(amount, currency).scaleb(_digits(currency)))


def from_minor_units(value: int, currency: str) -> Decimal:
    """Minor units back to the amount, with exactly the currency's digits."""
    return in_currency(Decimal(value).scaleb(-_digits(currency)), currency)


def ledger_fields(account_id: str, customer_id: str, currency: str, item: TransactionView) -> Document:
    """The typed fields of a transaction's ledger document, its money in minor units (on MongoDB:
    Decimal128 values)."""
    return {
        layout.ACCOUNT_ID: account_id,
        layout.CUSTOMER_ID: customer_id,
        layout.LEDGER_VERSION: item.version,
        layout.KIND: item.kind,
        layout.AMOUNT_MINOR: minor_units(item.amount, currency),
        layout.BALANCE_AFTER_MINOR: minor_units(item.balance_after, currency),
        layout.CURRENCY: currency,
        layout.AT: item.at,
        layout.REFERENCE: item.reference,
        layout.TRANSFER_ID: None if item.transfer_id is None else str(item.transfer_id),
        layout.COUNTERPART: None if item.counterpart is None else str(item.counterpart),
        layout.RECORDED: 1,
    }


def transfer_of(doc: Document) -> TransferView:
    """A transfer document as its view, its amount back from minor units."""
    return layout.transfer_view(doc, from_minor_units(doc[layout.AMOUNT_MINOR], doc[layout.CURRENCY]))
