"""FerretDB v1 limit: no Decimal128. Inserting one makes FerretDB v1.24 close the connection
(tests/integration/test_ferretdb_limits.py), so money a reporting tool reads as a number is stored
as whole minor units (cents for EUR, yen for JPY: the currency's digits, contracts.currencies), an
int64 beside the document's ``currency``. Exact, and summable by any tool. On MongoDB, Decimal128.

minor_units(Decimal("12.50"), "EUR")   # 1250
from_minor_units(1250, "EUR")          # Decimal("12.50")
"""

from decimal import Decimal

from cqrs_shared.contracts.currencies import MINOR_UNITS, canonical_currency
from cqrs_shared.contracts.money import in_currency


def _digits(currency: str) -> int:
    return MINOR_UNITS[canonical_currency(currency)]


def minor_units(amount: Decimal, currency: str) -> int:
    """``amount`` in whole minor units of ``currency`` (ValueError if it has more digits than those)."""
    return int(in_currency(amount, currency).scaleb(_digits(currency)))


def from_minor_units(value: int, currency: str) -> Decimal:
    """Minor units back to the amount, with exactly the currency's digits."""
    return in_currency(Decimal(value).scaleb(-_digits(currency)), currency)
