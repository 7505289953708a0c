"""The query service's routing table against the contracts: every query of the query service's
queue has a handler, and each handler returns what its query says it is answered with."""

from typing import get_type_hints

from cqrs_contracts import Operation, Query
from cqrs_contracts.base import result_of
from cqrs_shared.messaging.parsing import members
from query_service.queries import HANDLERS


def test_every_query_has_a_handler_or_is_an_operation() -> None:
    assert set(HANDLERS) | set(members(Operation)) == set(members(Query))
    assert not set(HANDLERS) & set(members(Operation))


def test_each_handler_returns_what_its_query_is_answered_with() -> None:
    for query, handler in HANDLERS.items():
        assert get_type_hints(handler)["return"] is result_of(query), query.__name__
