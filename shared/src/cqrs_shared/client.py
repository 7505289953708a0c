"""The typed client of the pair: send commands, ask queries, over RabbitMQ only.

async with CqrsClient.connect("amqp://cqrs-client:PASSWORD@127.0.0.1:5672/cqrs") as client:
    reply = await client.send(CreateCustomer(name="Ada", locale="en-GB"))
    ada = await client.ask(GetCustomer(customer_id=reply.id))   # a CustomerView: the query says so
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit
from uuid import UUID, uuid4

from aio_pika.abc import AbstractConnection, AbstractExchange
from aio_pika.exceptions import AMQPError
from aiormq.exceptions import ChannelAccessRefused
from pydantic import TypeAdapter

from cqrs_shared.contracts import CommandReply, Contract, Metadata, message_type
from cqrs_shared.contracts.base import Answered, result_of
from cqrs_shared.contracts.replies import QueryFailed, QueryOk
from cqrs_shared.errors import BrokerUnavailable, RemoteError, TopologyMismatch
from cqrs_shared.messaging import topology
from cqrs_shared.messaging.channels import broker_urls, connect_failover, connect_first
from cqrs_shared.messaging.rpc import RpcClient
from cqrs_shared.observability.tracing import new_traceparent

R = TypeVar("R", bound=Contract)
_COMMAND_REPLY = TypeAdapter[CommandReply](CommandReply)
_REPLIES: dict[type[Contract], TypeAdapter[Any]] = {}


def _reply_of(result: type[R]) -> "TypeAdapter[QueryOk[R] | QueryFailed]":
    """The reply to a query answering ``result``, validated in one pass (made once per type)."""
    adapter = _REPLIES.get(result)
    if adapter is None:
        adapter = _REPLIES[result] = TypeAdapter(QueryOk[result] | QueryFailed)  # type: ignore[valid-type,arg-type]
    return adapter


DEFAULT_TIMEOUT = 10.0


class CqrsClient:
    def __init__(
        self,
        rpc: RpcClient,
        exchanges: tuple[AbstractExchange, AbstractExchange],
        timeout: float,
        user: str | None,
    ) -> None:
        self._rpc = rpc
        self._commands, self._queries = exchanges
        self._timeout = timeout
        self._user = user

    @classmethod
    @asynccontextmanager
    async def connect(cls, url: str, *, timeout: float = DEFAULT_TIMEOUT) -> AsyncIterator["CqrsClient"]:
        """Connect, declare the topology where allowed (commands wait for a late service), yield.

        Every message says who sent it (user_id, the URL's user), which RabbitMQ checks. ``url``
        may name several nodes of a cluster, separated by commas: the connection goes to the first
        that answers and, when it is lost, comes back on the next (a call in flight then fails or
        times out: send it again with the same command_id). With one URL a lost connection is
        BrokerUnavailable.
        """
        urls = broker_urls(url)
        try:
            if len(urls) > 1:
                connection: AbstractConnection = await connect_failover(urls, timeout)
            else:
                connection = await connect_first(urls, timeout)
        except (OSError, AMQPError, TimeoutError, ValueError) as error:
            where = ", ".join(_safe(each) for each in urls)
            raise BrokerUnavailable(f"cannot reach RabbitMQ at {where}: {error}") from None
        async with connection, RpcClient(connection) as rpc:
            await _declare(connection)
            channel = rpc.channel
            exchanges = (
                await channel.get_exchange(topology.COMMANDS_EXCHANGE, ensure=False),
                await channel.get_exchange(topology.QUERIES_EXCHANGE, ensure=False),
            )
            yield cls(rpc, exchanges, timeout, unquote(urlsplit(urls[0]).username or "") or None)

    async def send(
        self, command: Contract, *, command_id: UUID | None = None, traceparent: str | None = None
    ) -> CommandReply:
        """Send a command and return its reply, accepted or rejected. command_id is the idempotency key."""
        type_name = message_type(command)
        metadata = Metadata(
            message_id=command_id or uuid4(),
            type=type_name,
            schema_version=command.SCHEMA_VERSION,
            traceparent=traceparent or new_traceparent(),
        )
        body = await self._rpc.call(
            self._commands,
            type_name,
            command.model_dump_json().encode(),
            metadata,
            timeout=self._timeout,
            user_id=self._user,
        )
        return _COMMAND_REPLY.validate_json(body)

    async def ask(
        self,
        query: Answered[R],
        result: type[R] | None = None,
        *,
        traceparent: str | None = None,
        queue: str = topology.QUERY_QUEUE,
    ) -> R:
        """Ask a query (of the query service, or ``queue``'s); a structured error reply raises RemoteError.

        What it answers with is the query's own (``Answered`` in the contracts): ``result`` need not
        be given. The query service is asked through ``cqrs.queries``; another queue (the command
        service's streams, an operator's) through the default exchange.
        """
        answer = result or result_of(type(query))
        if answer is None or not isinstance(query, Contract):
            raise TypeError(f"{type(query).__name__} is no query of the pair: it names no answer")
        type_name = message_type(query)
        metadata = Metadata(
            type=type_name, schema_version=query.SCHEMA_VERSION, traceparent=traceparent or new_traceparent()
        )
        exchange = self._queries if queue == topology.QUERY_QUEUE else self._rpc.channel.default_exchange
        body = await self._rpc.call(
            exchange,
            queue,
            query.model_dump_json().encode(),
            metadata,
            timeout=self._timeout,
            user_id=self._user,
        )
        reply = _reply_of(answer).validate_json(body)
        if isinstance(reply, QueryFailed):
            raise RemoteError(reply.error)
        return reply.result


async def _declare(connection: AbstractConnection) -> None:
    """Declare the exchanges and queues clients use, so that commands wait for a late service.

    A client without configure permission (README: Security) relies on the services or the
    broker's definitions to have declared them; its refusal closes only this channel. A queue the
    services declared otherwise (quorum, say) is theirs: the client leaves it as it is.
    """
    channel = await connection.channel()
    try:
        await topology.declare_commands(channel)
        await topology.declare_query_queue(channel)
    except (ChannelAccessRefused, TopologyMismatch):
        return
    await channel.close()


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"
