"""The routing table: which aggregate decides each command, and how its state is stored."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from uuid import UUID, uuid5

from pydantic import TypeAdapter

from command_service.domain import account, customer
from cqrs_shared.contracts import Command, Contract, CreateCustomer, Deposit, OpenAccount, Withdraw

S = TypeVar("S")

# Ids of aggregates created without a client-given id derive from the command id, so a
# redelivered create names the same aggregate.
_ID_NAMESPACE = UUID("0b4c4b59-94a2-4b47-a6e1-4f3c5c8f3a10")


@dataclass(frozen=True)
class Aggregate(Generic[S]):
    stream_type: str
    state_type: type[S]
    decide: Callable[[S | None, Any, UUID], list[Any]]
    evolve: Callable[[S | None, Any], S]
    # Built once: a TypeAdapter compiles a schema, which is not work for every message.
    _codec: TypeAdapter[S] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_codec", TypeAdapter(self.state_type))

    def dump(self, state: S) -> dict[str, Any]:
        """The state as the JSON object stored in the streams table."""
        dumped: dict[str, Any] = self._codec.dump_python(state, mode="json")
        return dumped

    def load(self, data: dict[str, Any]) -> S:
        return self._codec.validate_python(data)

    def run(self, state: S | None, command: Contract, stream_id: UUID) -> tuple[list[Any], S | None]:
        """Decide, then fold the events into the new state."""
        events = self.decide(state, command, stream_id)
        for event in events:
            state = self.evolve(state, event)
        return events, state


CUSTOMER = Aggregate(customer.STREAM_TYPE, customer.Customer, customer.decide, customer.evolve)
ACCOUNT = Aggregate(account.STREAM_TYPE, account.Account, account.decide, account.evolve)

ROUTES: dict[str, Aggregate[Any]] = {
    "CreateCustomer": CUSTOMER,
    "MakeCustomerPreferred": CUSTOMER,
    "ChangeCustomerLocale": CUSTOMER,
    "EditCustomerDetails": CUSTOMER,
    "OpenAccount": ACCOUNT,
    "Deposit": ACCOUNT,
    "Withdraw": ACCOUNT,
}


def stream_id(command: Command, command_id: UUID) -> UUID:
    """The id of the aggregate a command addresses."""
    if isinstance(command, CreateCustomer):
        return command.customer_id or uuid5(_ID_NAMESPACE, str(command_id))
    if isinstance(command, OpenAccount):
        return command.account_id or uuid5(_ID_NAMESPACE, str(command_id))
    if isinstance(command, Deposit | Withdraw):
        return command.account_id
    return command.customer_id


def creates(command: Command) -> bool:
    """Whether ``command`` brings its aggregate into being."""
    return isinstance(command, CreateCustomer | OpenAccount)


def prerequisite(command: Command) -> tuple[str, UUID] | None:
    """Another aggregate that must exist for ``command`` to be decided: (stream type, id)."""
    if isinstance(command, OpenAccount):
        return customer.STREAM_TYPE, command.customer_id
    return None
