"""Which replica projects which partition of the events: pure rules, no I/O (sharing.py runs them).

members = Membership(me="q-1", ttl=3.0)
members.heard("q-2", now)
owned(me, members.alive(now), count=4)     # {0, 2}: q-1 ranks first of two
"""

from collections.abc import Iterable
from dataclasses import dataclass, field


def owned(me: str, members: Iterable[str], count: int) -> frozenset[int]:
    """The partitions ``me`` should project among ``members`` (``me`` counts even if unheard):
    partition p goes to the member ranked p modulo their number, so each member gets an equal
    share (one more for the first ones) and every member computes the same split. One partition
    stays with whichever member holds it (the queue's single active consumer chose it): handing it
    to another would only pause projecting."""
    if count == 1:
        return frozenset({0})
    ranked = sorted({*members, me})
    return frozenset(index for index in range(count) if ranked[index % len(ranked)] == me)


@dataclass
class Membership:
    """The replicas heard from within ``ttl`` seconds, by their announcements."""

    me: str
    ttl: float
    _last: dict[str, float] = field(default_factory=dict)

    def heard(self, member: str, now: float) -> None:
        self._last[member] = now

    def alive(self, now: float) -> frozenset[str]:
        for member, at in list(self._last.items()):
            if now - at > self.ttl:
                del self._last[member]
        return frozenset({self.me, *self._last})


def to_release(owned_now: frozenset[int], active: Iterable[int]) -> frozenset[int]:
    """Partitions this replica projects (it was handed events of them) but another should: it
    finishes what it holds and steps back, so that the owner, waiting behind it, takes over."""
    return frozenset(index for index in active if index not in owned_now)
