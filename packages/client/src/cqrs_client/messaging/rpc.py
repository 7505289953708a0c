"""Request/reply over RabbitMQ direct reply-to: one reply consumer, futures by correlation id.

async with RpcClient(connection) as rpc:
    body = await rpc.call(exchange, "query-service.rpc", request, metadata, timeout=5)
"""

import asyncio
from types import TracebackType

from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
)
from aio_pika.exceptions import AMQPError, DeliveryError
from aiormq import spec

from cqrs_client.errors import BrokerUnavailable, RequestTimeout
from cqrs_client.messaging.channels import close_bounded
from cqrs_client.messaging.envelope import outgoing
from cqrs_client.messaging.topology import DIRECT_REPLY_TO
from cqrs_contracts.metadata import Metadata


class RpcClient:
    """Sends requests and matches replies to them; every call has a timeout."""

    def __init__(self, connection: AbstractConnection) -> None:
        self._connection = connection
        self._pending: dict[str, asyncio.Future[bytes]] = {}
        self._channel: AbstractChannel | None = None

    async def __aenter__(self) -> "RpcClient":
        # on_return_raises: a request to a queue that does not exist fails at once, not by timeout.
        self._channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        # Declared (passively), not merely named: a robust channel then restores the reply consumer
        # after a reconnect, and calls keep working.
        replies = await self._channel.declare_queue(DIRECT_REPLY_TO, passive=True)
        await replies.consume(self._on_reply, no_ack=True)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        for future in self._pending.values():
            future.cancel()
        if self._channel is not None:
            await close_bounded("RPC channel", self._channel.close)

    @property
    def channel(self) -> AbstractChannel:
        if self._channel is None:
            raise RuntimeError("RpcClient used outside 'async with'")
        return self._channel

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        future = self._pending.pop(message.correlation_id or "", None)
        if future is not None and not future.done():
            future.set_result(message.body)

    async def call(
        self,
        exchange: AbstractExchange,
        routing_key: str,
        body: bytes,
        metadata: Metadata,
        *,
        timeout: float,
        user_id: str | None = None,
    ) -> bytes:
        """Publish ``body`` (as ``user_id``) and wait for the reply with the same correlation id, all
        within ``timeout``: one deadline over the publish, its confirm and the reply."""
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending[metadata.correlation_id] = future
        try:
            async with asyncio.timeout(timeout):
                await self._publish(exchange, routing_key, body, metadata, user_id)
                return await future
        except TimeoutError:
            raise RequestTimeout(f"no reply to {metadata.type} within {timeout:g} s") from None
        finally:
            self._pending.pop(metadata.correlation_id, None)

    async def _publish(
        self,
        exchange: AbstractExchange,
        routing_key: str,
        body: bytes,
        metadata: Metadata,
        user_id: str | None,
    ) -> None:
        """Publish the request (no deadline of its own: the call's covers it); a refusal raises
        BrokerUnavailable."""
        message = outgoing(body, metadata, reply_to=DIRECT_REPLY_TO, persistent=False, user_id=user_id)
        try:
            await exchange.publish(message, routing_key, mandatory=True)
        except DeliveryError as error:
            if isinstance(error.frame, spec.Basic.Nack):  # the queue's bound (docs/security.md: Limits)
                raise BrokerUnavailable(
                    f"the broker refused {metadata.type!r} for {routing_key!r}: its queue is full"
                ) from None
            raise BrokerUnavailable(
                f"nothing is bound to receive {metadata.type!r} at {routing_key!r}: is the service running?"
            ) from None
        except AMQPError as error:
            # The channel or connection failed under the publish: a node lost, or a request sent
            # in the moment after a reconnect when the channel is open again and its reply
            # consumer not yet ("fast reply consumer does not exist"). Nothing was sent; say so
            # as the client's own error, which a caller retries (send(..., attempts=N)).
            raise BrokerUnavailable(
                f"the broker failed while {metadata.type!r} was sent: {error!r}"
            ) from None
