"""Raw AMQP for the tests that must send what the typed client never would."""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID, uuid4

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

from cqrs_client.messaging.topology import COMMANDS_EXCHANGE


class Raw:
    """Publishes exactly the bytes and properties given; collects replies on its own queue."""

    def __init__(self, channel: AbstractChannel, replies: AbstractQueue) -> None:
        self.channel = channel
        self.replies = replies

    async def publish(
        self,
        body: bytes,
        *,
        exchange: str = "",
        routing_key: str,
        reply: bool = True,
        message_id: str | None = None,
        type_: str | None = None,
        headers: dict[str, str | int] | None = None,
        user_id: str | None = None,
    ) -> str:
        """Publish; ``user_id`` must be the channel's own user unless that user is an impersonator."""
        correlation_id = str(uuid4())
        message = aio_pika.Message(
            body,
            message_id=message_id,
            type=type_,
            correlation_id=correlation_id,
            reply_to=self.replies.name if reply else None,
            headers=dict(headers or {}),
            user_id=user_id,
        )
        target = self.channel.default_exchange if not exchange else await self.channel.get_exchange(exchange)
        await target.publish(message, routing_key=routing_key)
        return correlation_id

    async def reply(self, correlation_id: str, timeout: float = 10) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                message = await self.replies.get(fail=False, no_ack=True)
                if message is None:
                    await asyncio.sleep(0.02)
                elif message.correlation_id == correlation_id:
                    found: dict[str, Any] = json.loads(message.body)
                    return found


@asynccontextmanager
async def raw_channel(url: str) -> AsyncIterator[Raw]:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        replies = await channel.declare_queue(exclusive=True)
        yield Raw(channel, replies)


async def find_dead_letter(
    channel: AbstractChannel, queue: str, correlation_id: str, timeout: float = 10
) -> AbstractIncomingMessage:
    """Take the dead letter with ``correlation_id`` out of ``queue`` (others are put back)."""
    dlq = await channel.get_queue(queue)
    async with asyncio.timeout(timeout):
        while True:
            message = await dlq.get(fail=False)
            if message is None:
                await asyncio.sleep(0.05)
                continue
            if message.correlation_id == correlation_id:
                await message.ack()
                return message
            await message.nack(requeue=True)


async def publish_creates(raw: Raw, ids: list[UUID], name: str) -> None:
    """Publish one CreateCustomer per id, fire and forget (no reply_to), each with its own command id."""
    for customer_id in ids:
        body = {"type": "CreateCustomer", "customer_id": str(customer_id), "name": name, "locale": "en"}
        await raw.publish(
            json.dumps(body).encode(),
            exchange=COMMANDS_EXCHANGE,
            routing_key="CreateCustomer",
            message_id=str(uuid4()),
            reply=False,
        )
