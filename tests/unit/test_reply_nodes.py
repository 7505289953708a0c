"""Which node a direct reply-to address names, and what is known of it (messaging/reply_nodes.py)."""

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cqrs_shared.messaging.reply_nodes import ReplyNodes, reply_node

# An address RabbitMQ 3.10 gave a requester in the cluster test: NEW_PID_EXT, ATOM_UTF8_EXT.
ISSUED = "amq.rabbitmq.reply-to.g1h2AA9yZXBseUAxMjI3Njg3NDAAAAc3AAAAAGsW3UM=.5gb1uDTM9y2PAkxAK8lm5Q=="


def pid_ext(node: bytes) -> str:
    """An address with PID_EXT and ATOM_EXT, as older brokers encode a pid."""
    term = bytes([131, 103, 100]) + len(node).to_bytes(2, "big") + node + bytes(9)
    return f"amq.rabbitmq.reply-to.{base64.b64encode(term).decode()}.a2V5"


@pytest.mark.parametrize(
    ("reply_to", "node"),
    [
        (ISSUED, "reply@122768740"),
        (pid_ext(b"rabbit@host-1"), "rabbit@host-1"),
        # What RabbitMQ fails on, its connection with it (tests/e2e/test_poison_reply.py).
        ("amq.rabbitmq.reply-to.g2hlbGxv.abc", "undecoded:g2hlbGxv"),
        ("amq.rabbitmq.reply-to.not base64!.abc", "undecoded:not base64!"),
        ("amq.rabbitmq.reply-to.g1h2AA9yZXBseUA=.abc", "undecoded:g1h2AA9yZXBseUA="),  # the atom cut short
        ("amq.rabbitmq.reply-to.", "undecoded:"),
        # Queues: a publish there cannot crash a channel.
        ("amq.gen-Jx2y", None),
        ("amq.rabbitmq.reply-to", None),
    ],
)
def test_the_node_of_an_address(reply_to: str, node: str | None) -> None:
    assert reply_node(reply_to) == node


@given(st.text(max_size=300))
def test_any_address_reads_without_raising(tail: str) -> None:
    found = reply_node("amq.rabbitmq.reply-to." + tail)
    assert found is not None
    assert len(found) <= 255 + len("undecoded:")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_node_is_unknown_until_a_probe_decides_and_failing_only_for_a_while() -> None:
    clock = Clock()
    nodes = ReplyNodes(clock, failing_seconds=30)
    assert nodes.verdict("reply@1") == "unknown"
    nodes.confirmed("reply@1")
    nodes.failed("reply@2")
    assert (nodes.verdict("reply@1"), nodes.verdict("reply@2")) == ("trusted", "failing")
    clock.now += 31
    assert nodes.verdict("reply@2") == "unknown"  # probed once more
    nodes.forget_trusted()
    assert nodes.verdict("reply@1") == "unknown"


def test_a_node_that_failed_after_it_was_trusted_is_failing() -> None:
    nodes = ReplyNodes(Clock())
    nodes.confirmed("reply@1")
    nodes.failed("reply@1")
    assert nodes.verdict("reply@1") == "failing"
    nodes.confirmed("reply@1")
    assert nodes.verdict("reply@1") == "trusted"


def test_what_is_remembered_is_bounded_oldest_first() -> None:
    nodes = ReplyNodes(Clock(), remembered=2)
    for name in ("a", "b", "c"):
        nodes.failed(name)
        nodes.confirmed(name.upper())
    assert [nodes.verdict(name) for name in ("a", "b", "c")] == ["unknown", "failing", "failing"]
    assert [nodes.verdict(name) for name in ("A", "B", "C")] == ["unknown", "trusted", "trusted"]
