"""Which node a direct reply-to address names, and what is known of it (messaging/reply_nodes.py)."""

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cqrs_shared.messaging.reply_nodes import ReplyNodes, Target, reply_target

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
    target = reply_target(reply_to)
    assert (target and target.node) == node


@given(st.text(max_size=300))
def test_any_address_reads_without_raising(tail: str) -> None:
    found = reply_target("amq.rabbitmq.reply-to." + tail)
    assert found is not None
    assert len(found.requester) <= 255
    assert len(found.node) <= 255 + len("undecoded:")


def test_the_requester_is_the_pid_part() -> None:
    assert reply_target(ISSUED) == Target("reply@122768740", "g1h2AA9yZXBseUAxMjI3Njg3NDAAAAc3AAAAAGsW3UM=")
    assert reply_target("amq.rabbitmq.reply-to.g2hlbGxv.abc") == Target(
        "undecoded:g2hlbGxv", "g2hlbGxv", decoded=False
    )


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


A1, A2, B1 = Target("reply@1", "pid-a1"), Target("reply@1", "pid-a2"), Target("reply@2", "pid-b1")


def test_a_node_is_trusted_once_confirmed_and_a_requester_failing_only_for_a_while() -> None:
    clock = Clock()
    nodes = ReplyNodes(clock, failing_seconds=30)
    assert nodes.verdict(A1) == "unknown"
    nodes.confirmed(A1)
    nodes.failed(B1)
    assert [nodes.verdict(t) for t in (A1, A2, B1)] == ["trusted", "trusted", "failing"]
    clock.now += 31
    assert nodes.verdict(B1) == "unknown"  # probed once more
    nodes.forget_trusted()
    assert nodes.verdict(A2) == "unknown"


def test_a_node_back_from_an_outage_serves_new_requesters_while_its_lost_ones_stay_failing() -> None:
    nodes = ReplyNodes(Clock())
    nodes.failed(A1)  # a requester on reply@1 when the node went down
    assert (nodes.verdict(A1), nodes.verdict(A2)) == ("failing", "unknown")
    nodes.confirmed(A2)  # reply@1 is back: a new requester's probe is confirmed
    assert (nodes.verdict(A1), nodes.verdict(A2)) == ("trusted", "trusted")


def test_what_is_remembered_is_bounded_oldest_first() -> None:
    nodes = ReplyNodes(Clock(), remembered=2)
    for index in range(3):
        nodes.failed(Target("reply@9", f"pid-{index}"))
        nodes.confirmed(Target(f"reply@{index}", "pid"))
    assert [nodes.verdict(Target("reply@9", f"pid-{i}")) for i in range(3)] == [
        "unknown",
        "failing",
        "failing",
    ]
    assert [nodes.verdict(Target(f"reply@{i}", "other")) for i in range(3)] == [
        "unknown",
        "trusted",
        "trusted",
    ]


def test_addresses_that_do_not_decode_cannot_push_a_real_node_out() -> None:
    nodes = ReplyNodes(Clock(), remembered=2)
    nodes.confirmed(A1)
    for index in range(10):  # a client sending addresses the broker takes but that name no node
        nodes.confirmed(reply_target(f"amq.rabbitmq.reply-to.junk{index}") or A1)
    assert nodes.verdict(A2) == "trusted"
    assert nodes.verdict(reply_target("amq.rabbitmq.reply-to.junk9") or A1) == "trusted"
    assert nodes.verdict(reply_target("amq.rabbitmq.reply-to.junk0") or A1) == "unknown"
