"""Plans for tests/faults/test_transfer_money.py, drawn by hypothesis: a few funded accounts, then
groups of transfers, deposits and withdrawals sent at once, each group with its fault (a kill of the
command service, a cut of the broker connection, or none) at a drawn moment; and the run's figures.

@given(plans())
def test(plan: Plan) -> None: ...
"""

from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Literal

from hypothesis import strategies as st

Kind = Literal["transfer", "deposit", "withdraw"]
Fault = Literal["none", "kill", "cut"]


@dataclass(frozen=True)
class Move:
    kind: Kind
    account: int  # the account (a transfer's source), by index
    other: int  # a transfer's destination
    amount: Decimal
    at: float  # seconds after its group starts that it is sent


@dataclass(frozen=True)
class Group:
    moves: tuple[Move, ...]
    fault: Fault
    after: float  # seconds after the group starts that its fault strikes


@dataclass(frozen=True)
class Plan:
    funding: tuple[Decimal, ...]  # the ordinary accounts' first deposits; then the nearly full one
    groups: tuple[Group, ...]


@dataclass
class Figures:
    examples: int = 0
    moves: int = 0
    funding: int = 0  # the opening deposits
    transfers: int = 0
    completed: int = 0
    failed: int = 0
    refunded: int = 0
    deposits: int = 0
    deposits_refused: int = 0
    withdrawals: int = 0
    withdrawals_refused: int = 0
    retries: int = 0
    kills: int = 0
    cuts: int = 0
    connections_cut: int = 0
    restarts: int = 0

    def add(self, other: "Figures") -> None:
        for each in fields(self):
            setattr(self, each.name, getattr(self, each.name) + getattr(other, each.name))

    def __str__(self) -> str:
        return ", ".join(f"{each.name} {getattr(self, each.name)}" for each in fields(self))


amounts = st.integers(1, 300_000).map(lambda cents: Decimal(cents).scaleb(-2))  # 0.01 … 3,000.00
moments = st.integers(0, 300).map(lambda ms: ms / 1000)


@st.composite
def moves(draw: st.DrawFn, accounts: int) -> Move:
    """A move on an ordinary account; a transfer's destination may be any other, the nearly full
    one (the last) included: only credits reach it, and those beyond its room are refunded."""
    kind: Kind = draw(st.sampled_from(["transfer", "transfer", "transfer", "deposit", "withdraw"]))
    account = draw(st.integers(0, accounts - 2))
    other = (account + draw(st.integers(1, accounts - 1))) % accounts
    return Move(kind, account, other, draw(amounts), draw(moments))


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    funding = tuple(draw(st.lists(st.integers(100, 1500).map(Decimal), min_size=2, max_size=4)))
    accounts = len(funding) + 1
    groups = draw(
        st.lists(
            st.builds(
                Group,
                st.lists(moves(accounts), min_size=4, max_size=10).map(tuple),
                st.sampled_from(["none", "none", "kill", "cut"]),
                moments,
            ),
            min_size=10,
            max_size=14,
        )
    )
    # At least one kill and one cut in every plan, each at a drawn group of its own.
    faults: list[Fault] = [group.fault for group in groups]
    forced: tuple[Fault, ...] = ("kill", "cut")
    for fault in forced:
        if fault not in faults:
            # A group without a fault, or with one another group has too (there are >= 10 groups).
            free = [n for n, each in enumerate(faults) if each == "none" or faults.count(each) > 1]
            faults[draw(st.sampled_from(free))] = fault
    return Plan(funding, tuple(Group(g.moves, f, g.after) for g, f in zip(groups, faults, strict=True)))
