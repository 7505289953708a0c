"""What each service retries and what it dead-letters."""

import asyncpg
import pytest
from asyncpg.exceptions import InternalClientError
from pymongo.errors import AutoReconnect, OperationFailure

from command_service.transient import is_transient as command_transient
from cqrs_client.errors import RequestTimeout
from cqrs_shared.runtime.group_commit import GroupInterrupted
from query_service.errors import RepairFailed
from query_service.transient import is_transient as query_transient


@pytest.mark.parametrize(
    "error",
    [
        ConnectionResetError(),
        asyncpg.ConnectionDoesNotExistError("closed"),
        InternalClientError("cannot switch to state 15; another operation (2) is in progress"),
        asyncpg.SerializationError("could not serialize"),
        GroupInterrupted("stopped before this item was run"),
    ],
)
def test_the_command_side_retries_outages(error: BaseException) -> None:
    assert command_transient(error)


@pytest.mark.parametrize("error", [ValueError("bug"), KeyError("state"), asyncpg.UndefinedTableError("x")])
def test_the_command_side_does_not_loop_on_bugs(error: BaseException) -> None:
    assert not command_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        AutoReconnect("primary stepped down"),
        RepairFailed("gap"),
        RequestTimeout("rpc"),
        GroupInterrupted("stopped before this item was run"),
    ],
)
def test_the_query_side_retries_outages_and_unfilled_gaps(error: BaseException) -> None:
    assert query_transient(error)


@pytest.mark.parametrize("error", [TypeError("bug"), OperationFailure("Cannot create field", code=28)])
def test_the_query_side_does_not_requeue_for_ever_what_is_not_an_outage(error: BaseException) -> None:
    """Issue 7: an OperationFailure fails the same way every time; it gets a retry budget instead."""
    assert not query_transient(error)
