"""The command side's routing table against the contracts: every command routed once, each to the
aggregate whose union (contracts) holds it, so its decider is the one that matches on it."""

from typing import get_args

from command_service.aggregates import ACCOUNT_AGGREGATE, CUSTOMER_AGGREGATE, TRANSFER_AGGREGATE
from command_service.routes import ROUTES
from cqrs_contracts import AccountCommand, Command, CustomerCommand, TransferCommand
from cqrs_contracts.base import result_of
from cqrs_shared.messaging.parsing import members

UNIONS = {
    CUSTOMER_AGGREGATE.stream_type: CustomerCommand,
    ACCOUNT_AGGREGATE.stream_type: AccountCommand,
    TRANSFER_AGGREGATE.stream_type: TransferCommand,
}


def test_every_command_is_routed_and_nothing_else() -> None:
    assert set(ROUTES) == set(members(Command))


def test_each_command_goes_to_the_aggregate_whose_union_holds_it() -> None:
    for model, route in ROUTES.items():
        assert model in get_args(UNIONS[route.aggregate.stream_type]), model.__name__


def test_a_command_names_no_answer_it_is_no_query() -> None:
    assert [model.__name__ for model in ROUTES if result_of(model) is not None] == []
