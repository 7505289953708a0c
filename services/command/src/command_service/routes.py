"""The routing table of commands, keyed by model class: the aggregate that decides each, the stream it
addresses, and the stream that must exist first (and owns what the command creates). Adding a
command adds one line here.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from uuid import UUID, uuid5

from command_service.aggregates import (
    ACCOUNT_AGGREGATE,
    CUSTOMER_AGGREGATE,
    TRANSFER_AGGREGATE,
    Aggregate,
)
from command_service.domain import account, transfer
from cqrs_contracts import (
    CUSTOMER,
    ChangeCustomerLocale,
    Command,
    CompleteTransfer,
    Contract,
    CreateCustomer,
    Deposit,
    EditCustomerDetails,
    FailTransfer,
    MakeCustomerPreferred,
    MarkTransferDebited,
    OpenAccount,
    StreamType,
    TransferMoney,
    Withdraw,
)

C = TypeVar("C", bound=Contract)

# Ids of aggregates created without a client-given id derive from the command id, so a
# redelivered create names the same aggregate.
_ID_NAMESPACE = UUID("0b4c4b59-94a2-4b47-a6e1-4f3c5c8f3a10")


@dataclass(frozen=True)
class Peers(Generic[C]):
    """Other streams a command is decided on (a transfer's two accounts): their ids, the aggregate
    they are, and what their states (None: no such stream) make for the decider's last argument."""

    aggregate: Aggregate[Any]
    ids: Callable[[C], tuple[UUID, ...]]
    context: Callable[..., object]


@dataclass(frozen=True)
class Route(Generic[C]):
    command: type[C]
    aggregate: Aggregate[Any]
    names: Callable[[C], UUID | None]
    """The id of the stream the command addresses; None on a create: derived from the command id."""
    creates: bool = False
    requires: tuple[StreamType, Callable[[C], UUID]] | None = None
    """A stream (type, id) that must exist before the command can be decided. A stream the command
    creates belongs to it: the event store counts the streams each stream owns."""
    room: Callable[[UUID, int], None] | None = None
    """The domain's bound on that count: given the required stream's id and how many streams it owns,
    raises a DomainError when it may own no more."""
    peers: Peers[C] | None = None
    """Streams read with the target and handed to the decider (as context, never written)."""

    def target(self, command: C, command_id: UUID) -> UUID:
        return self.names(command) or uuid5(_ID_NAMESPACE, str(command_id))

    def required(self, command: C) -> tuple[StreamType, UUID] | None:
        return None if self.requires is None else (self.requires[0], self.requires[1](command))

    def reads(self, command: C, target: UUID) -> list[UUID]:
        """Every stream deciding ``command`` on ``target`` reads, loaded at once."""
        required = self.required(command)
        others = () if self.peers is None else self.peers.ids(command)
        return [target, *([] if required is None else [required[1]]), *others]


ROUTES: dict[type[Contract], Route[Any]] = {
    route.command: route
    for route in (
        Route(CreateCustomer, CUSTOMER_AGGREGATE, lambda c: c.customer_id, creates=True),
        Route(MakeCustomerPreferred, CUSTOMER_AGGREGATE, lambda c: c.customer_id),
        Route(ChangeCustomerLocale, CUSTOMER_AGGREGATE, lambda c: c.customer_id),
        Route(EditCustomerDetails, CUSTOMER_AGGREGATE, lambda c: c.customer_id),
        Route(
            OpenAccount,
            ACCOUNT_AGGREGATE,
            lambda c: c.account_id,
            creates=True,
            requires=(CUSTOMER, lambda c: c.customer_id),
            room=account.check_room,
        ),
        Route(Deposit, ACCOUNT_AGGREGATE, lambda c: c.account_id),
        Route(Withdraw, ACCOUNT_AGGREGATE, lambda c: c.account_id),
        Route(
            TransferMoney,
            TRANSFER_AGGREGATE,
            lambda c: c.transfer_id,
            creates=True,
            peers=Peers(ACCOUNT_AGGREGATE, lambda c: (c.from_account_id, c.to_account_id), transfer.Accounts),
        ),
        Route(MarkTransferDebited, TRANSFER_AGGREGATE, lambda c: c.transfer_id),
        Route(CompleteTransfer, TRANSFER_AGGREGATE, lambda c: c.transfer_id),
        Route(FailTransfer, TRANSFER_AGGREGATE, lambda c: c.transfer_id),
    )
}


def route_of(command: Command) -> Route[Any]:
    return ROUTES[type(command)]
