"""Amounts on the wire: decimal strings (never JSON numbers), positive, bounded, exact."""

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

from cqrs_contracts.currencies import MINOR_UNITS, canonical_currency

MAX_AMOUNT = Decimal("1000000000")  # one billion of any currency in one command


def _amount(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise ValueError(f'must be a decimal string such as "10.00", not {type(value).__name__}')
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(f'must be a decimal string such as "10.00", got {value!r}') from None
    if not amount.is_finite() or "e" in text.lower():
        raise ValueError(f'must be a plain decimal such as "10.00", got {value!r}')
    if amount <= 0:
        raise ValueError("must be positive")
    if amount > MAX_AMOUNT:
        raise ValueError(f"must be at most {MAX_AMOUNT}")
    return amount


def _balance(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if not isinstance(value, str):
        raise ValueError(f"a balance is a decimal string, not {type(value).__name__}")
    return Decimal(value)


def minor_digits(amount: Decimal) -> int:
    """How many digits ``amount`` has after the point (trailing zeros count: 1.50 has 2)."""
    exponent = amount.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def in_currency(amount: Decimal, currency: str) -> Decimal:
    """``amount`` with exactly the currency's minor digits; more digits than it has raise ValueError."""
    digits = MINOR_UNITS[canonical_currency(currency)]
    if minor_digits(amount.normalize()) > digits:
        raise ValueError(f"{currency} has {digits} minor-unit digits; {amount} has more")
    return amount.quantize(Decimal(1).scaleb(-digits))


_as_string = PlainSerializer(str, return_type=str)
Amount = Annotated[Decimal, BeforeValidator(_amount), _as_string]
Balance = Annotated[Decimal, BeforeValidator(_balance), _as_string]
