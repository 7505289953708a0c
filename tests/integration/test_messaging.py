"""Consumer, replies, dead letters and RPC against a real RabbitMQ."""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import cast
from urllib.parse import urlsplit
from uuid import uuid4

import aio_pika
import pytest
from aio_pika.abc import AbstractQueue, AbstractRobustConnection

from cqrs_client.client import CqrsClient
from cqrs_client.errors import BrokerUnavailable, RequestTimeout, TopologyMismatch
from cqrs_client.messaging import envelope, topology
from cqrs_client.messaging.channels import login, open_channel
from cqrs_client.messaging.envelope import Delivery
from cqrs_client.messaging.rpc import RpcClient
from cqrs_contracts import ErrorCode, ErrorInfo, Metadata
from cqrs_contracts.replies import QueryFailed
from cqrs_shared.messaging import consumer
from cqrs_shared.messaging.consumer import Consumer, Outcome
from cqrs_shared.messaging.links import reply_path
from cqrs_shared.messaging.responder import Responder
from cqrs_shared.observability import metrics
from query_service.subscription.event_queues import EventQueues
from tests.hostile_frames import content_header, publish_frames
from tests.raw_amqp import raw_publisher
from tests.resources import Servers, fresh_vhost, no_vhost, unique
from tests.waiting import until

Handle = Callable[[Delivery], Awaitable[Outcome]]


def user_of(amqp: AbstractRobustConnection) -> str:
    """The user ``amqp`` logged in as: what a Responder publishes its copies as."""
    return login(str(cast(aio_pika.RobustConnection, amqp).url))


@asynccontextmanager
async def serving(amqp: AbstractRobustConnection, queue_name: str, handle: Handle) -> AsyncIterator[None]:
    async with AsyncExitStack() as stack:
        channel = await open_channel(stack, amqp, prefetch=8)
        queue = await topology.declare_queue(channel, queue_name)
        responder = Responder(await reply_path(stack, amqp, amqp), channel, user_of(amqp))
        async with Consumer(
            queue, handle, responder, transient=lambda error: isinstance(error, TimeoutError)
        ):
            yield
        await queue.delete(if_unused=False, if_empty=False)
        await channel.queue_delete(topology.dead_letter_queue(queue_name))


async def echo(delivery: Delivery) -> Outcome:
    body = json.loads(delivery.body)
    if body.get("fail"):
        raise ValueError("boom")
    info = ErrorInfo(code=ErrorCode.NOT_FOUND, message=str(body["n"]))
    return Outcome(reply=QueryFailed(error=info), dead_letter=info if body.get("dead") else None)


async def call(rpc: RpcClient, queue: str, body: dict[str, object], timeout: float = 5) -> dict[str, object]:
    raw = await rpc.call(
        rpc.channel.default_exchange, queue, json.dumps(body).encode(), Metadata(type="Echo"), timeout=timeout
    )
    reply: dict[str, object] = json.loads(raw)
    return reply


async def test_many_concurrent_calls_each_get_their_own_reply(amqp: AbstractRobustConnection) -> None:
    name = unique("test.rpc")
    async with serving(amqp, name, echo), RpcClient(amqp) as rpc:
        replies = await asyncio.gather(*(call(rpc, name, {"n": n}) for n in range(100)))
    assert [reply["error"]["message"] for reply in replies] == [str(n) for n in range(100)]  # type: ignore[index]


async def test_a_call_nobody_answers_times_out(amqp: AbstractRobustConnection) -> None:
    name = unique("test.silent")
    async with RpcClient(amqp) as rpc:
        channel = await amqp.channel()
        await channel.declare_queue(name, auto_delete=True)
        with pytest.raises(RequestTimeout):
            await call(rpc, name, {"n": 1}, timeout=0.3)
        await channel.close()


class WithoutReplyConsumer(RpcClient):
    """The moment after a reconnect: the channel open again, its reply consumer not restored yet."""

    async def __aenter__(self) -> "WithoutReplyConsumer":
        self._channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        return self


async def test_a_call_in_the_moment_before_the_reply_consumer_is_back_is_broker_unavailable(
    amqp: AbstractRobustConnection,
) -> None:
    # The cluster test's client once met this after a node's loss: RabbitMQ closes the channel
    # ("fast reply consumer does not exist"), and the raw aiormq error escaped the typed client.
    name = unique("test.gap")
    async with serving(amqp, name, echo), WithoutReplyConsumer(amqp) as rpc:
        with pytest.raises(BrokerUnavailable, match="fast reply consumer does not exist"):
            await call(rpc, name, {"n": 1}, timeout=5)


async def test_a_call_to_a_queue_that_does_not_exist_fails_at_once(amqp: AbstractRobustConnection) -> None:
    async with RpcClient(amqp) as rpc:
        with pytest.raises(BrokerUnavailable, match="is the service running"):
            await call(rpc, unique("test.nobody"), {"n": 1}, timeout=5)


async def test_dead_letter_keeps_the_message_and_the_reason(amqp: AbstractRobustConnection) -> None:
    name = unique("test.dlq")
    async with serving(amqp, name, echo), RpcClient(amqp) as rpc:
        reply = await call(rpc, name, {"n": 7, "dead": True})
        assert reply["status"] == "error"
        channel = await amqp.channel()
        dlq = await channel.get_queue(topology.dead_letter_queue(name))
        message = await dlq.get(timeout=5)
        await message.ack()
        assert json.loads(message.body) == {"n": 7, "dead": True}
        assert message.headers["x-error-code"] == "not_found"
        assert message.headers["x-original-queue"] == name
        await channel.close()


async def test_a_handler_crash_replies_internal_error_dead_letters_and_keeps_consuming(
    amqp: AbstractRobustConnection,
) -> None:
    name = unique("test.crash")
    async with serving(amqp, name, echo), RpcClient(amqp) as rpc:
        crashed = await call(rpc, name, {"fail": True})
        after = await call(rpc, name, {"n": 2})
        channel = await amqp.channel()
        dlq = await channel.get_queue(topology.dead_letter_queue(name))
        message = await dlq.get(timeout=5)
        await message.ack()
        await channel.close()
    assert crashed["error"]["code"] == "internal_error"  # type: ignore[index]
    assert "boom" in crashed["error"]["message"]  # type: ignore[index]
    assert after["error"]["message"] == "2"  # type: ignore[index]
    assert message.headers["x-error-code"] == "internal_error"


async def test_a_transient_failure_is_requeued_and_retried(amqp: AbstractRobustConnection) -> None:
    name = unique("test.retry")
    attempts = 0

    async def flaky(delivery: Delivery) -> Outcome:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise TimeoutError("database away")
        return await echo(delivery)

    async with serving(amqp, name, flaky), RpcClient(amqp) as rpc:
        reply = await call(rpc, name, {"n": 5})
    assert attempts == 2
    assert reply["error"]["message"] == "5"  # type: ignore[index]


async def test_a_message_that_always_fails_transiently_is_dead_lettered_once_its_requeues_are_spent(
    amqp: AbstractRobustConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Requeued without limit before (issue 20): it circulated for ever on a classic queue.
    monkeypatch.setattr(consumer, "REQUEUE_DELAY_SECONDS", 0.01)
    name = unique("test.requeues")
    attempts = 0

    async def away(delivery: Delivery) -> Outcome:
        nonlocal attempts
        attempts += 1
        raise TimeoutError("database away")

    before = metrics.REQUEUES_EXHAUSTED.labels(name)._value.get()
    async with AsyncExitStack() as stack:
        channel = await open_channel(stack, amqp, prefetch=8)
        queue = await topology.declare_queue(channel, name)
        responder = Responder(await reply_path(stack, amqp, amqp), channel, user_of(amqp))
        transient = lambda error: isinstance(error, TimeoutError)  # noqa: E731
        async with Consumer(queue, away, responder, transient=transient, requeues=3), RpcClient(amqp) as rpc:
            reply = await call(rpc, name, {"n": 1})
        dlq = await channel.get_queue(topology.dead_letter_queue(name))
        message = await dlq.get(timeout=5)
        await message.ack()
        await queue.delete(if_unused=False, if_empty=False)
        await channel.queue_delete(topology.dead_letter_queue(name))
    assert attempts == 4  # the first try and three requeues
    assert reply["error"]["code"] == "internal_error"  # type: ignore[index]
    assert message.headers["x-error-code"] == "internal_error"
    assert metrics.REQUEUES_EXHAUSTED.labels(name)._value.get() == before + 1


async def test_an_answer_larger_than_a_reply_may_be_is_a_validation_error_reply(
    amqp: AbstractRobustConnection,
) -> None:
    # Published, it would have been refused by the broker (max_message_size), closing the channel.
    async def huge(delivery: Delivery) -> Outcome:
        return Outcome(reply=QueryFailed(error=ErrorInfo(code=ErrorCode.NOT_FOUND, message="x" * 1_100_000)))

    name = unique("test.huge")
    async with serving(amqp, name, huge), RpcClient(amqp) as rpc:
        reply = await call(rpc, name, {"n": 1})
        after = await call(rpc, name, {"n": 2})
    assert reply["error"]["code"] == "validation_error"  # type: ignore[index]
    assert "a reply holds at most 1000000" in reply["error"]["message"]  # type: ignore[index]
    assert after["error"]["code"] == "validation_error"  # type: ignore[index]


async def test_a_message_our_code_fails_on_outside_the_handler_is_parked_once_its_requeues_are_spent(
    amqp: AbstractRobustConnection, rabbitmq_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A defect of ours in reading a message (here: delivery() made to raise for one body) must neither
    # hold its prefetch slot nor come back for ever; the messages behind it are served.
    monkeypatch.setattr(consumer, "REQUEUE_DELAY_SECONDS", 0.01)
    real = envelope.delivery

    def broken(message: aio_pika.abc.AbstractIncomingMessage, publisher: str | None = None) -> Delivery:
        if b"poison" in message.body:
            raise RuntimeError("a defect of ours")
        return real(message, publisher)

    monkeypatch.setattr(consumer, "delivery", broken)
    name = unique("test.defect")
    async with AsyncExitStack() as stack:
        channel = await open_channel(stack, amqp, prefetch=1)
        queue = await topology.declare_queue(channel, name)
        responder = Responder(await reply_path(stack, amqp, amqp), channel, user_of(amqp))
        transient = lambda error: isinstance(error, TimeoutError)  # noqa: E731
        async with Consumer(queue, echo, responder, transient=transient, requeues=3), RpcClient(amqp) as rpc:
            # Written raw, without a message id (aiormq would add one): the budget must run out all
            # the same (a delivery tag is new at each delivery).
            poison = b'{"poison": 1}'
            async with raw_publisher(rabbitmq_url) as send:
                await send(publish_frames("", name, poison, content_header(len(poison))))
            after = await call(rpc, name, {"n": 3})
            dlq = await channel.get_queue(topology.dead_letter_queue(name))
            message = await dlq.get(timeout=5)
            await message.ack()
        await queue.delete(if_unused=False, if_empty=False)
        await channel.queue_delete(topology.dead_letter_queue(name))
    assert after["error"]["message"] == "3"  # type: ignore[index]
    assert message.body == poison  # (its copy in the .dlq has an id: aiormq adds one to what it sends)
    assert message.headers["x-error-code"] == "internal_error"


async def test_a_body_over_the_brokers_limit_is_refused_by_the_broker_itself(rabbitmq_url: str) -> None:
    # max_message_size (infra/provision.sh, compose): no consumer ever holds such a body in memory.
    connection = await aio_pika.connect(rabbitmq_url)
    async with connection:
        channel = await connection.channel()
        with pytest.raises(aio_pika.exceptions.ChannelPreconditionFailed, match="max size"):
            await channel.default_exchange.publish(
                aio_pika.Message(b"x" * (1024 * 1024 + 1)), routing_key=unique("test.nowhere")
            )


async def test_leaving_the_consumer_finishes_in_flight_messages(amqp: AbstractRobustConnection) -> None:
    name = unique("test.drain")
    finished: list[str] = []

    async def slow(delivery: Delivery) -> Outcome:
        await asyncio.sleep(0.3)
        finished.append(delivery.message_id or "")
        return Outcome()

    async with serving(amqp, name, slow):
        channel = await amqp.channel()
        for _ in range(3):
            message = aio_pika.Message(b"{}", message_id=str(uuid4()))
            await channel.default_exchange.publish(message, routing_key=name)
        await asyncio.sleep(0.1)
        await channel.close()
    assert len(finished) == 3


async def test_a_single_active_consumer_queue_feeds_one_consumer_until_it_goes(
    amqp: AbstractRobustConnection,
) -> None:
    name = unique("test.single")
    got: dict[str, list[int]] = {"first": [], "second": []}

    def consumer(queue: AbstractQueue, who: str) -> Consumer:
        async def handle(delivery: Delivery) -> Outcome:
            got[who].append(json.loads(delivery.body)["n"])
            return Outcome()

        return Consumer(queue, handle, responder, transient=lambda _: False)

    async def publish(numbers: range) -> None:
        for n in numbers:
            await channel.default_exchange.publish(aio_pika.Message(json.dumps({"n": n}).encode()), name)

        async def all_arrived() -> bool:
            return sum(len(numbers) for numbers in got.values()) == numbers.stop

        await until(all_arrived, timeout=5, what=f"{numbers.stop} messages")

    async with AsyncExitStack() as stack:
        channel = await open_channel(stack, amqp)
        responder = Responder(await reply_path(stack, amqp, amqp), channel, user_of(amqp))
        queues = [
            await topology.declare_queue(await open_channel(stack, amqp), name, single_active_consumer=True)
            for _ in range(2)
        ]
        first = await stack.enter_async_context(AsyncExitStack())
        await first.enter_async_context(consumer(queues[0], "first"))
        await stack.enter_async_context(consumer(queues[1], "second"))
        await publish(range(20))
        assert (got["first"], got["second"]) == (list(range(20)), [])
        await first.aclose()
        await publish(range(20, 25))
        assert (got["first"], got["second"]) == (list(range(20)), list(range(20, 25)))
        await channel.queue_delete(name)
        await channel.queue_delete(topology.dead_letter_queue(name))


async def test_a_single_active_consumer_that_leaves_finishes_before_the_next_one_begins(
    amqp: AbstractRobustConnection,
) -> None:
    """Two consumers of one queue must never handle messages at once (query_service.subscription.sharing): the
    one that leaves settles what it began before it cancels, and hands back what came meanwhile."""
    name = unique("test.handover")
    spans: dict[str, list[tuple[float, float]]] = {"first": [], "second": []}
    began = asyncio.Event()

    def consumer(queue: AbstractQueue, who: str) -> Consumer:
        async def handle(delivery: Delivery) -> Outcome:
            start = time.monotonic()
            began.set()
            await asyncio.sleep(0.3 if who == "first" else 0)
            spans[who].append((start, time.monotonic()))
            return Outcome()

        return Consumer(queue, handle, responder, transient=lambda _: False)

    async def publish() -> None:
        await channel.default_exchange.publish(aio_pika.Message(b"{}"), name)

    async def declared(at: AsyncExitStack) -> AbstractQueue:
        return await topology.declare_queue(await open_channel(at, amqp), name, single_active_consumer=True)

    async with AsyncExitStack() as stack:
        channel = await open_channel(stack, amqp)
        responder = Responder(await reply_path(stack, amqp, amqp), channel, user_of(amqp))
        first = await stack.enter_async_context(AsyncExitStack())
        queue = await topology.declare_queue(
            await open_channel(first, amqp), name, single_active_consumer=True
        )
        await first.enter_async_context(consumer(queue, "first"))
        queue = await topology.declare_queue(
            await open_channel(stack, amqp), name, single_active_consumer=True
        )
        await stack.enter_async_context(consumer(queue, "second"))
        await publish()
        await asyncio.wait_for(began.wait(), 5)
        leaving = asyncio.create_task(first.aclose())  # with its message in flight
        await asyncio.sleep(0.05)
        for _ in range(3):
            await publish()
        await leaving
        await until(lambda: asyncio.sleep(0, len(spans["second"]) == 3), timeout=5, what="3 messages")
        await channel.queue_delete(name)
        await channel.queue_delete(topology.dead_letter_queue(name))
    first_done = max(end for _, end in spans["first"])
    assert [start >= first_done for start, _ in spans["second"]] == [True, True, True], spans


async def test_a_queue_declared_with_other_arguments_is_a_startup_error_naming_it(
    amqp: AbstractRobustConnection,
) -> None:
    name = unique("test.mismatch")
    async with AsyncExitStack() as stack:
        await topology.declare_queue(await open_channel(stack, amqp), name)
        with pytest.raises(TopologyMismatch, match=f"delete_queue {name}"):
            await topology.declare_queue(await open_channel(stack, amqp), name, single_active_consumer=True)
        channel = await open_channel(stack, amqp)
        await channel.queue_delete(name)
        await channel.queue_delete(topology.dead_letter_queue(name))


@pytest.mark.parametrize(("before", "after"), [("classic", "quorum"), ("quorum", "classic")])
async def test_a_queue_of_the_other_type_is_a_startup_error_naming_it(
    amqp: AbstractRobustConnection, before: topology.QueueType, after: topology.QueueType
) -> None:
    name = unique("test.type")
    async with AsyncExitStack() as stack:
        await topology.declare_queue(await open_channel(stack, amqp), name, topology.QueueKind(before))
        with pytest.raises(
            TopologyMismatch, match=rf"'{name}(\.dlq)?' exists with another type than CQRS_QUEUE_TYPE"
        ):
            await topology.declare_queue(await open_channel(stack, amqp), name, topology.QueueKind(after))
        channel = await open_channel(stack, amqp)
        await channel.queue_delete(name)
        await channel.queue_delete(topology.dead_letter_queue(name))


async def test_a_quorum_queue_dead_letters_what_exceeds_its_delivery_limit_with_the_reason(
    amqp: AbstractRobustConnection,
) -> None:
    name = unique("test.limit")
    async with AsyncExitStack() as stack:
        channel = await open_channel(stack, amqp)
        queue = await topology.declare_queue(channel, name, topology.QueueKind("quorum", delivery_limit=2))
        await channel.default_exchange.publish(aio_pika.Message(b"poison", message_id="p"), routing_key=name)
        for _ in range(3):  # delivered, returned, delivered, returned: over the limit of 2
            message = await queue.get(timeout=5)
            await message.nack(requeue=True)
        dlq = await channel.declare_queue(topology.dead_letter_queue(name), passive=True)
        parked = await until(lambda: dlq.get(fail=False), timeout=10, what="the dead letter")
        assert parked.message_id == "p"
        assert parked.headers["x-first-death-reason"] == "delivery_limit"
        await parked.ack()
        await channel.queue_delete(name)
        await channel.queue_delete(topology.dead_letter_queue(name))


async def test_a_client_given_several_nodes_connects_to_the_first_that_answers(rabbitmq_url: str) -> None:
    dead = rabbitmq_url.replace(urlsplit(rabbitmq_url).netloc.rpartition("@")[2], "127.0.0.1:1")
    with pytest.raises(BrokerUnavailable, match=r"127\.0\.0\.1:1"):
        async with CqrsClient.connect(dead, timeout=5):
            pass
    async with CqrsClient.connect(f"{dead},{rabbitmq_url}", timeout=5) as client:
        assert not client._rpc.channel.is_closed


async def test_a_partition_beyond_the_configured_number_stops_the_query_service(servers: Servers) -> None:
    """Events hashed to a partition no replica reads would wait there for good: refuse to start."""
    with fresh_vhost(servers.rabbitmq) as vhost:
        assert vhost is not None, no_vhost(servers.rabbitmq)
        async with AsyncExitStack() as stack:
            connection = await aio_pika.connect(vhost)
            await stack.enter_async_context(connection)
            channel = await open_channel(stack, connection)
            eight = EventQueues(8, topology.CLASSIC, ())
            assert len(await eight.declare_all(connection, channel)) == 8
            four = EventQueues(4, topology.CLASSIC, ())
            with pytest.raises(TopologyMismatch, match=r"'query-service\.events\.4' exists"):
                await four.declare_all(connection, channel)
