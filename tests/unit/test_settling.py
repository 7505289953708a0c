"""A message whose ack or nack never completes (its connection broke mid-write) does not hold the consumer."""

import asyncio
from typing import cast

import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue
from aiormq.exceptions import ConnectionClosed

from cqrs_client.messaging.envelope import Delivery
from cqrs_contracts.base import ErrorCode, ErrorInfo
from cqrs_contracts.replies import QueryFailed
from cqrs_shared.messaging import consumer
from cqrs_shared.messaging.consumer import Consumer, Outcome
from cqrs_shared.messaging.responder import Responder


class Stuck:
    """The parts of an incoming message the consumer uses; settling it never finishes."""

    body = b"{}"
    headers = None
    message_id = correlation_id = reply_to = type = routing_key = timestamp = user_id = None
    redelivered = False

    async def ack(self) -> None:
        await asyncio.Event().wait()

    async def nack(self, requeue: bool = True) -> None:
        await asyncio.Event().wait()


class Named:
    name = "test.queue"


async def handled(delivery: Delivery) -> Outcome:
    return Outcome()


async def transient(delivery: Delivery) -> Outcome:
    raise TimeoutError("database away")


@pytest.mark.parametrize("handler", [handled, transient])
async def test_a_settle_that_hangs_gives_up_and_the_consumer_goes_idle(
    monkeypatch: pytest.MonkeyPatch, handler: consumer.Handler
) -> None:
    monkeypatch.setattr(consumer, "SETTLE_TIMEOUT_SECONDS", 0.05)
    monkeypatch.setattr(consumer, "REQUEUE_DELAY_SECONDS", 0.0)
    runner = Consumer(
        cast(AbstractQueue, Named()),
        handler,
        cast(Responder, None),
        transient=lambda error: isinstance(error, TimeoutError),
    )
    async with asyncio.timeout(2):
        await runner._on_message(cast(AbstractIncomingMessage, Stuck()))
    assert runner._idle.is_set()


class Settles:
    """A message, asking for a reply, whose ack and nack complete at once."""

    body = b"{}"
    headers = timestamp = user_id = None
    redelivered = False
    message_id, correlation_id, type = "m-1", "c-1", "GetCustomer"
    reply_to, exchange, routing_key = "amq.rabbitmq.reply-to.abc", "cqrs.queries", "query-service.rpc"
    nacked = False

    async def ack(self) -> None:
        return None

    async def nack(self, requeue: bool = True) -> None:
        self.nacked = requeue


class FailingReplies:
    """A responder whose reply raises ``error``, as a lost connection or a defect would."""

    publisher = "cqrs-query"

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def reply(self, received: Delivery, reply: object) -> None:
        raise self.error


async def answered(delivery: Delivery) -> Outcome:
    return Outcome(reply=QueryFailed(error=ErrorInfo(code=ErrorCode.NOT_FOUND, message="none")))


@pytest.mark.parametrize(
    ("error", "level"),
    [
        (ConnectionClosed(320, "CONNECTION_FORCED - broker forced connection closure"), "WARNING"),
        (RuntimeError("<Connection: amqp://cqrs-query:******@127.0.0.1:5701/cqrs> closed"), "WARNING"),
        (ValueError("a defect of ours"), "ERROR"),
    ],
)
async def test_a_reply_lost_with_the_broker_is_requeued_as_a_warning_any_other_failure_as_an_error(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, error: Exception, level: str
) -> None:
    """At a node loss, every reply in flight failed with the connection: each was an ERROR line."""
    monkeypatch.setattr(consumer, "REQUEUE_DELAY_SECONDS", 0.0)
    responder = cast(Responder, FailingReplies(error))
    runner = Consumer(cast(AbstractQueue, Named()), answered, responder, transient=lambda _: False)
    message = Settles()
    await runner._on_message(cast(AbstractIncomingMessage, message))
    assert message.nacked
    requeued = [record for record in caplog.records if record.getMessage().endswith("; requeueing")]
    assert [(record.levelname, record.exc_info is not None) for record in requeued] == [(level, True)]
