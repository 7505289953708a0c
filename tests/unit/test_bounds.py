"""Every number, list and string a contract takes is bounded."""

from uuid import uuid4

import pytest
from pydantic import ValidationError

from cqrs_contracts import Deposit, GetCustomer, GetCustomersWithName, ReadStream
from cqrs_contracts.base import MAX_CURSOR_LENGTH, MAX_TOKEN_POSITIONS, MAX_VERSION


def token(positions: int) -> str:
    return ",".join(f"customer:{uuid4()}@1" for _ in range(positions))


def test_versions_fit_the_event_store() -> None:
    assert Deposit(account_id=uuid4(), amount="1.00", expected_version=MAX_VERSION).expected_version
    with pytest.raises(ValidationError, match="less than or equal to 2147483647"):
        Deposit(account_id=uuid4(), amount="1.00", expected_version=MAX_VERSION + 1)
    with pytest.raises(ValidationError):
        GetCustomer(customer_id=uuid4(), min_version=MAX_VERSION + 1)
    with pytest.raises(ValidationError):
        ReadStream(stream_id=uuid4(), after_version=MAX_VERSION + 1)


def test_a_token_holds_a_bounded_number_of_positions() -> None:
    assert (
        len(GetCustomer(customer_id=uuid4(), token=token(MAX_TOKEN_POSITIONS)).token) == MAX_TOKEN_POSITIONS
    )
    with pytest.raises(ValidationError, match="at most 32"):
        GetCustomer(customer_id=uuid4(), token=token(MAX_TOKEN_POSITIONS + 1))


def test_a_cursor_is_short() -> None:
    assert GetCustomersWithName(name="Ada", after="c" * MAX_CURSOR_LENGTH).after
    with pytest.raises(ValidationError, match="at most 200"):
        GetCustomersWithName(name="Ada", after="c" * (MAX_CURSOR_LENGTH + 1))
