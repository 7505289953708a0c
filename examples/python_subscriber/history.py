"""The pair's history: ReadAll on the command side, one page at a time, by direct reply-to.

    history = await History.open(connection, "ledger")
    events, head = await history.page(after=0)    # raw envelopes at positions 1, 2, ...

A subscriber user sends it to the exchange cqrs.streams (the one the subscriber role may write to);
the command service answers only users listed in its CQRS_EVENT_READERS, and refuses others with
the error code "forbidden" (Refused here). Each envelope stays raw JSON, so that one this code
cannot read is set aside by itself and does not spoil its page.
"""

import asyncio
import json
from typing import Any
from uuid import uuid4

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange, AbstractIncomingMessage

from cqrs_client.messaging import topology
from cqrs_contracts import ReadAll

PAGE = 500  # events a page; fewer back means the reader is at the head
TIMEOUT = 10.0  # seconds a page may take


class Refused(Exception):
    """The command side would not answer: ``code`` as it said (``forbidden``: not an event reader)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class History:
    def __init__(self, channel: AbstractChannel, streams: AbstractExchange, user: str) -> None:
        self._channel, self._streams, self._user = channel, streams, user
        self._waiting: dict[str, asyncio.Future[bytes]] = {}

    @classmethod
    async def open(cls, connection: AbstractConnection, user: str) -> "History":
        """On a channel of its own; the pair declared cqrs.streams (a passive declare checks it)."""
        channel = await connection.channel()
        streams = await channel.get_exchange(topology.STREAMS_EXCHANGE)
        history = cls(channel, streams, user)
        # Direct reply-to: consume the pseudo-queue (no ack) on this channel before asking.
        replies = await channel.declare_queue(topology.DIRECT_REPLY_TO, passive=True)
        await replies.consume(history._on_reply, no_ack=True)
        return history

    async def close(self) -> None:
        await self._channel.close()

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        future = self._waiting.pop(message.correlation_id or "", None)
        if future is not None and not future.done():
            future.set_result(message.body)

    async def page(self, after: int) -> tuple[list[Any], int]:
        """The raw envelopes after position ``after`` (at most PAGE), and the head when it was read."""
        request = ReadAll(after_position=after, limit=PAGE)
        correlation_id = str(uuid4())
        answered = self._waiting[correlation_id] = asyncio.get_running_loop().create_future()
        message = aio_pika.Message(
            request.model_dump_json().encode(),
            content_type="application/json",
            type=request.type,
            message_id=str(uuid4()),
            correlation_id=correlation_id,
            reply_to=topology.DIRECT_REPLY_TO,
            user_id=self._user,  # the broker checks it; the command service decides on it
            headers={"schema_version": request.SCHEMA_VERSION},
        )
        try:
            await self._streams.publish(message, routing_key=topology.STREAM_QUEUE)
            reply = json.loads(await asyncio.wait_for(answered, TIMEOUT))
        except TimeoutError:
            raise TimeoutError(f"no answer to ReadAll in {TIMEOUT:g} s: is the command side up?") from None
        finally:
            self._waiting.pop(correlation_id, None)
        if reply.get("status") != "ok":
            error = reply.get("error") or {}
            raise Refused(str(error.get("code")), str(error.get("message")))
        result = reply["result"]
        return list(result["events"]), int(result["head"])
