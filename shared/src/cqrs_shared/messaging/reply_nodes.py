"""Which replies may go out at once on the trusted replies' channel, and which to leave alone (pure).

RabbitMQ 3.10 closes the whole connection of a channel that publishes to a direct reply-to address
(``amq.rabbitmq.reply-to.<pid>.<key>``) whose ``<pid>`` does not decode, or names a node that is not
running (links.py). A reply to a node seen working goes out at once; the first reply to any other
node is a probe, sent alone on a connection of its own and confirmed (reply_path.py). A probe the
broker confirms makes its node trusted. One that costs its connection marks its requester (the
``<pid>``, one requester's channel) failing for a while, and replies to it are dropped: the request
is settled, nobody could receive its reply. Failure is the requester's, not the node's: a node that
was down and is back serves new requesters at once (their first reply is probed), while the
addresses of requesters it lost stay failing.

    nodes = ReplyNodes(clock=time.monotonic)
    target = reply_target(reply_to)  # None: no direct reply-to, nothing to fear
    nodes.verdict(target)            # "trusted", "failing" or "unknown" (probe it)
    nodes.confirmed(target) / nodes.failed(target) / nodes.forget_trusted()
"""

import base64
import binascii
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from cqrs_client.messaging.topology import DIRECT_REPLY_TO

_PREFIX = DIRECT_REPLY_TO + "."
# The Erlang external term format of a pid: version 131, then NEW_PID_EXT (88) or PID_EXT (103),
# whose first part is the node, an atom in one of four encodings: tag -> bytes of its length.
_TERM_VERSION = 131
_PID_TAGS = (88, 103)
_ATOM_LENGTH_BYTES = {118: 2, 119: 1, 100: 2, 115: 1}
MAX_TOKEN_CHARACTERS = 255  # an AMQP short string: reply_to cannot be longer

FAILING_SECONDS = 30.0  # how long a requester whose probe failed gets no reply (then one probe again)
REMEMBERED = 1_024  # nodes trusted, and requesters failing, remembered; the oldest forgotten first

Verdict = Literal["trusted", "failing", "unknown"]
V = TypeVar("V")


@dataclass(frozen=True)
class Target:
    """Where a direct reply-to address leads: a node, and one requester (channel) on it."""

    node: str  # "reply@122768740"; for a pid that does not decode, "undecoded:<pid>"
    requester: str  # the address's <pid> part
    decoded: bool = True  # False: the pid is no Erlang pid term, so its "node" is the address itself


def reply_target(reply_to: str) -> Target | None:
    """The node and requester a direct reply-to address names; None for an address that is not direct
    reply-to (a queue's name: a publish there cannot crash a channel)."""
    if not reply_to.startswith(_PREFIX):
        return None
    requester = reply_to[len(_PREFIX) :].split(".", 1)[0][:MAX_TOKEN_CHARACTERS]
    node = _node_of(requester)
    if node is None:
        return Target(f"undecoded:{requester}", requester, decoded=False)
    return Target(node, requester)


def _node_of(pid_part: str) -> str | None:
    try:
        term = base64.b64decode(pid_part, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(term) < 4 or term[0] != _TERM_VERSION or term[1] not in _PID_TAGS:
        return None
    width = _ATOM_LENGTH_BYTES.get(term[2])
    if width is None or len(term) < 3 + width:
        return None
    length = int.from_bytes(term[3 : 3 + width], "big")
    name = term[3 + width : 3 + width + length]
    if len(name) != length or not name:
        return None
    return name.decode("utf-8", errors="replace")


class ReplyNodes:
    """The nodes seen to take replies, and the requesters whose probe cost the connection (for a while)."""

    def __init__(
        self,
        clock: Callable[[], float],
        failing_seconds: float = FAILING_SECONDS,
        remembered: int = REMEMBERED,
    ) -> None:
        self._clock = clock
        self._failing_seconds = failing_seconds
        self._remembered = remembered
        self._trusted: OrderedDict[str, None] = OrderedDict()  # nodes
        # Addresses that do not decode but were confirmed (a broker whose format this module does
        # not know) are trusted apart: a client sending many cannot push the real nodes out.
        self._trusted_undecoded: OrderedDict[str, None] = OrderedDict()
        self._failing: OrderedDict[str, float] = OrderedDict()  # requester -> until when

    def verdict(self, target: Target) -> Verdict:
        if target.node in (self._trusted if target.decoded else self._trusted_undecoded):
            return "trusted"
        until = self._failing.get(target.requester)
        if until is None:
            return "unknown"
        if self._clock() < until:
            return "failing"
        del self._failing[target.requester]
        return "unknown"

    def confirmed(self, target: Target) -> None:
        """A probe to ``target`` was confirmed: replies to its node go out at once from now on."""
        self._failing.pop(target.requester, None)
        trusted = self._trusted if target.decoded else self._trusted_undecoded
        _remember(trusted, target.node, None, self._remembered)

    def failed(self, target: Target) -> None:
        """A probe to ``target`` cost its connection: no reply goes to its requester for a while."""
        _remember(self._failing, target.requester, self._clock() + self._failing_seconds, self._remembered)

    def forget_trusted(self) -> None:
        """The trusted replies' connection was closed by the broker: a trusted node has stopped since
        (its requesters' addresses no longer resolve). Which one is unknown, so each is probed again."""
        self._trusted.clear()
        self._trusted_undecoded.clear()


def _remember(table: OrderedDict[str, V], key: str, value: V, bound: int) -> None:
    table.pop(key, None)
    table[key] = value
    while len(table) > bound:
        table.popitem(last=False)
