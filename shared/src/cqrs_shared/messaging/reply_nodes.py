"""Which broker nodes a reply may go to on the trusted replies' channel, and which to leave alone (pure).

RabbitMQ 3.10 closes the whole connection of a channel that publishes to a direct reply-to address
(``amq.rabbitmq.reply-to.<pid>.<key>``) whose ``<pid>`` does not decode, or names a node that is not
running (links.py). Measured before this module: a client sending one such address a second kept
the replies' connection down, and four clients asking GetPreferredCustomers got 4 answers in 10 s
(8 timed out) instead of 674. A reply to a node seen working goes out at once; the first reply to
any other node is a probe, sent alone on a connection of its own and confirmed. A probe the broker
confirms makes the node trusted; one that costs its connection marks the node failing for a while,
and replies to it are dropped (the request is settled: nobody could receive its reply).

    nodes = ReplyNodes(clock=time.monotonic)
    node = reply_node(reply_to)      # None: no direct reply-to, nothing to fear
    nodes.verdict(node)              # "trusted", "failing" or "unknown" (probe it)
    nodes.confirmed(node) / nodes.failed(node) / nodes.forget_trusted()
"""

import base64
import binascii
from collections import OrderedDict
from collections.abc import Callable
from typing import Literal, TypeVar

from cqrs_client.messaging.topology import DIRECT_REPLY_TO

_PREFIX = DIRECT_REPLY_TO + "."
# The Erlang external term format of a pid: version 131, then NEW_PID_EXT (88) or PID_EXT (103),
# whose first part is the node, an atom in one of four encodings: tag -> bytes of its length.
_TERM_VERSION = 131
_PID_TAGS = (88, 103)
_ATOM_LENGTH_BYTES = {118: 2, 119: 1, 100: 2, 115: 1}
MAX_TOKEN_CHARACTERS = 255  # an AMQP short string: reply_to cannot be longer

FAILING_SECONDS = 30.0  # how long a node whose probe failed gets no reply (then one probe again)
REMEMBERED = 1_024  # nodes remembered either way; the oldest are forgotten first

Verdict = Literal["trusted", "failing", "unknown"]
V = TypeVar("V")


def reply_node(reply_to: str) -> str | None:
    """The node a direct reply-to address names (``reply@122768740``); for an address whose pid
    does not decode, its whole pid part, so that it is probed like any unknown node. None for an
    address that is not direct reply-to (a queue's name: a publish there cannot crash a channel)."""
    if not reply_to.startswith(_PREFIX):
        return None
    pid_part = reply_to[len(_PREFIX) :].split(".", 1)[0]
    return _node_of(pid_part) or f"undecoded:{pid_part[:MAX_TOKEN_CHARACTERS]}"


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
    """The nodes seen to take replies, and those whose probe cost the connection (for a while)."""

    def __init__(
        self,
        clock: Callable[[], float],
        failing_seconds: float = FAILING_SECONDS,
        remembered: int = REMEMBERED,
    ) -> None:
        self._clock = clock
        self._failing_seconds = failing_seconds
        self._remembered = remembered
        self._trusted: OrderedDict[str, None] = OrderedDict()
        self._failing: OrderedDict[str, float] = OrderedDict()  # node -> until when

    def verdict(self, node: str) -> Verdict:
        if node in self._trusted:
            return "trusted"
        until = self._failing.get(node)
        if until is None:
            return "unknown"
        if self._clock() < until:
            return "failing"
        del self._failing[node]
        return "unknown"

    def confirmed(self, node: str) -> None:
        """A probe to ``node`` was confirmed: its replies go out at once from now on."""
        self._failing.pop(node, None)
        _remember(self._trusted, node, None, self._remembered)

    def failed(self, node: str) -> None:
        """A probe to ``node`` cost its connection: no reply goes there for a while."""
        self._trusted.pop(node, None)
        _remember(self._failing, node, self._clock() + self._failing_seconds, self._remembered)

    def forget_trusted(self) -> None:
        """The trusted replies' connection was closed by the broker: a trusted node has stopped since
        (its requesters' addresses no longer resolve). Which one is unknown, so each is probed again."""
        self._trusted.clear()


def _remember(table: OrderedDict[str, V], key: str, value: V, bound: int) -> None:
    table.pop(key, None)
    table[key] = value
    while len(table) > bound:
        table.popitem(last=False)
