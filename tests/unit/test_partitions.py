"""Which replica projects which partition; queue types; broker URL lists (pure parts of issue 12)."""

import pytest
from pydantic import ValidationError

from cqrs_client.messaging import topology
from cqrs_client.messaging.channels import FailoverConnection, broker_urls
from cqrs_shared.runtime.settings import BrokerSettings
from query_service.subscription.partitions import Membership, owned, to_release


def test_every_partition_has_exactly_one_owner_whatever_the_members() -> None:
    for members in (["a"], ["a", "b"], ["c", "a", "b"], ["a", "b", "c", "d", "e"]):
        shares = [owned(me, members, 4) for me in members]
        assert sorted(p for share in shares for p in share) == [0, 1, 2, 3], members
        assert max(map(len, shares)) - min(map(len, shares)) <= 1, members


def test_a_replica_alone_owns_every_partition_and_counts_itself_unheard() -> None:
    assert owned("me", [], 3) == {0, 1, 2}
    assert owned("b", ["a"], 4) == {1, 3}


def test_one_partition_stays_with_whichever_replica_holds_it() -> None:
    # The unpartitioned queue is one partition: no replica ever steps back from it for another.
    assert all(owned(me, ["a", "b", "c"], 1) == {0} for me in ("a", "b", "c"))
    assert to_release(owned("c", ["a", "b"], 1), [0]) == frozenset()


def test_members_unheard_for_longer_than_the_ttl_are_gone() -> None:
    members = Membership("me", ttl=3.0)
    members.heard("other", now=10.0)
    assert members.alive(12.0) == {"me", "other"}
    assert members.alive(13.5) == {"me"}


def test_a_replica_steps_back_only_where_it_is_active_and_not_the_owner() -> None:
    assert to_release(frozenset({0, 2}), [0, 1, 3]) == {1, 3}
    assert to_release(frozenset({0, 1, 2, 3}), [0, 1]) == frozenset()


def test_classic_queues_keep_the_arguments_they_always_had() -> None:
    assert topology.QueueKind().arguments() == {}
    assert topology.QueueKind("quorum", 7).arguments() == {
        "x-queue-type": "quorum",
        "x-delivery-limit": 7,
        "x-dead-letter-strategy": "at-least-once",
    }


def test_several_broker_urls_are_one_setting_separated_by_commas() -> None:
    text = "amqp://u:p@127.0.0.1:5701/cqrs, amqp://u:p@127.0.0.1:5702/cqrs"
    settings = BrokerSettings(rabbitmq_url=text, queue_type="quorum")
    assert settings.broker_urls() == ["amqp://u:p@127.0.0.1:5701/cqrs", "amqp://u:p@127.0.0.1:5702/cqrs"]
    assert broker_urls("amqp://h/v") == ["amqp://h/v"]
    with pytest.raises(ValidationError):
        BrokerSettings(rabbitmq_url="amqp://h/v,http://elsewhere/")
    with pytest.raises(ValidationError):
        BrokerSettings(rabbitmq_url="amqp://h/v", queue_type="stream")


async def test_each_connection_attempt_goes_to_the_next_node_and_names_it_without_its_password() -> None:
    connection = FailoverConnection(["amqp://u:secret@a:1/v", "amqp://u:secret@b:2/v"], reconnect_interval=1)
    assert "secret" not in str(connection)
    assert [connection.url.host for _ in range(3)] == ["a", "b", "a"]
    assert str(connection.current.host) == "a"
