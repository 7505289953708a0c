"""Each aggregate: its stream type, its decider, and how its state is stored as JSON."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from uuid import UUID

from pydantic import TypeAdapter

from command_service.domain import account, customer, transfer
from cqrs_contracts import ACCOUNT, CUSTOMER, TRANSFER, Contract, StreamType

S = TypeVar("S")


@dataclass(frozen=True)
class Aggregate(Generic[S]):
    stream_type: StreamType
    state_type: type[S]
    decide: Callable[..., list[Any]]
    """(state, command, stream_id, *peers): the peers' states only where a route names some
    (routes.Peers: a transfer's two accounts)."""
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

    def run(
        self, state: S | None, command: Contract, stream_id: UUID, peers: tuple[Any, ...] = ()
    ) -> tuple[list[Any], S | None]:
        """Decide, then fold the events into the new state."""
        events = self.decide(state, command, stream_id, *peers)
        for event in events:
            state = self.evolve(state, event)
        return events, state


CUSTOMER_AGGREGATE = Aggregate(CUSTOMER, customer.Customer, customer.decide, customer.evolve)
ACCOUNT_AGGREGATE = Aggregate(ACCOUNT, account.Account, account.decide, account.evolve)
TRANSFER_AGGREGATE = Aggregate(TRANSFER, transfer.Transfer, transfer.decide, transfer.evolve)
