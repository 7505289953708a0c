"""The typed client of the pair: send commands, ask queries, over RabbitMQ only.

async with CqrsClient.connect("amqp://guest:guest@127.0.0.1:5672/") as client:
    reply = await client.send(CreateCustomer(name="Ada", locale="en-GB"))
    ada = await client.ask(GetCustomer(customer_id=reply.id), CustomerView)
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from uuid import UUID, uuid4

import aio_pika
from aio_pika.abc import AbstractExchange
from aio_pika.exceptions import AMQPError
from pydantic import TypeAdapter

from cqrs_shared.contracts import CommandReply, Contract, Metadata, message_type
from cqrs_shared.contracts.replies import QueryFailed, QueryOk
from cqrs_shared.errors import BrokerUnavailable, RemoteError
from cqrs_shared.messaging import topology
from cqrs_shared.messaging.rpc import RpcClient
from cqrs_shared.tracing import new_traceparent

R = TypeVar("R", bound=Contract)
_COMMAND_REPLY = TypeAdapter[CommandReply](CommandReply)
_QUERY_REPLY = TypeAdapter[QueryOk[Any] | QueryFailed](QueryOk[Any] | QueryFailed)
DEFAULT_TIMEOUT = 10.0


class CqrsClient:
    def __init__(self, rpc: RpcClient, commands: AbstractExchange, timeout: float) -> None:
        self._rpc = rpc
        self._commands = commands
        self._timeout = timeout

    @classmethod
    @asynccontextmanager
    async def connect(cls, url: str, *, timeout: float = DEFAULT_TIMEOUT) -> AsyncIterator["CqrsClient"]:
        """Connect, declare the command topology (commands wait for a late service), yield."""
        try:
            connection = await aio_pika.connect(url, timeout=timeout)
        except (OSError, AMQPError, TimeoutError) as error:
            raise BrokerUnavailable(f"cannot reach RabbitMQ at {_safe(url)}: {error}") from None
        async with connection, RpcClient(connection) as rpc:
            commands, _ = await topology.declare_commands(rpc.channel)
            await topology.declare_queue(rpc.channel, topology.QUERY_QUEUE)
            yield cls(rpc, commands, timeout)

    async def send(
        self, command: Contract, *, command_id: UUID | None = None, traceparent: str | None = None
    ) -> CommandReply:
        """Send a command and return its reply, accepted or rejected. command_id is the idempotency key."""
        type_name = message_type(command)
        metadata = Metadata(
            message_id=command_id or uuid4(), type=type_name, traceparent=traceparent or new_traceparent()
        )
        body = await self._rpc.call(
            self._commands, type_name, command.model_dump_json().encode(), metadata, timeout=self._timeout
        )
        return _COMMAND_REPLY.validate_json(body)

    async def ask(
        self,
        query: Contract,
        result: type[R],
        *,
        traceparent: str | None = None,
        queue: str = topology.QUERY_QUEUE,
    ) -> R:
        """Ask a query (of the query service, or ``queue``'s); a structured error reply raises RemoteError."""
        type_name = message_type(query)
        metadata = Metadata(type=type_name, traceparent=traceparent or new_traceparent())
        body = await self._rpc.call(
            self._rpc.channel.default_exchange,
            queue,
            query.model_dump_json().encode(),
            metadata,
            timeout=self._timeout,
        )
        reply = _QUERY_REPLY.validate_json(body)
        if isinstance(reply, QueryFailed):
            raise RemoteError(reply.error)
        return result.model_validate(reply.result)


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"
