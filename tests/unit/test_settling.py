"""A message whose ack or nack never completes (its connection broke mid-write) does not hold the consumer."""

import asyncio
from typing import cast

import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue

from cqrs_client.messaging.envelope import Delivery
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
