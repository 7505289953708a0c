"""The typed client of the pair: send commands, ask queries, over RabbitMQ only.

async with CqrsClient.connect("amqp://cqrs-client:PASSWORD@127.0.0.1:5672/cqrs") as client:
    reply = await client.send(CreateCustomer(name="Ada", locale="en-GB"), attempts=3)
    created = raise_for_rejection(reply)                          # CommandAccepted, or raises
    ada = await client.ask(GetCustomer(customer_id=created.id, token=created.token), timeout=2)

``send`` takes commands only and returns the reply, accepted or rejected; ``raise_for_rejection``
turns a rejection into ``CommandRejectedError``. ``ask`` returns the query's own result type and
raises ``RemoteError`` for an error reply. Both raise ``RequestTimeout`` and ``BrokerUnavailable``:
every error is a ``ClientError`` (cqrs_client.errors). A retry (``attempts``) sends the same command
id, so the command service applies it once. The caller's OpenTelemetry span, if any, is the parent of
the message's trace. The client declares no queue: the services own them (an exchange it sends to
that is missing, it declares as they do, where its user may).
Without ``async with``: ``client = await CqrsClient.open(url)`` ... ``await client.aclose()``.
"""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit
from uuid import UUID, uuid4

from aio_pika.abc import AbstractConnection, AbstractExchange
from aio_pika.exceptions import AMQPError
from aiormq.exceptions import ChannelAccessRefused, ChannelNotFoundEntity
from pydantic import TypeAdapter

from cqrs_client.errors import BrokerUnavailable, CommandRejectedError, RemoteError, RequestTimeout
from cqrs_client.messaging import topology
from cqrs_client.messaging.channels import broker_urls, connect_failover, connect_first
from cqrs_client.messaging.rpc import RpcClient
from cqrs_client.tracing import ambient_traceparent
from cqrs_client.transfers import TransferCalls
from cqrs_contracts import (
    Command,
    CommandAccepted,
    CommandRejected,
    CommandReply,
    Contract,
    Metadata,
    message_type,
)
from cqrs_contracts.base import Answered, result_of
from cqrs_contracts.replies import QueryFailed, QueryOk

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


class CqrsClient(TransferCalls):
    def __init__(
        self,
        rpc: RpcClient,
        exchanges: tuple[AbstractExchange, AbstractExchange],
        timeout: float,
        user: str | None,
        resources: AsyncExitStack | None = None,
        connection: AbstractConnection | None = None,
    ) -> None:
        self._rpc = rpc
        self._commands, self._queries = exchanges
        self._timeout = timeout
        self._user = user
        self._resources = resources or AsyncExitStack()
        self._connection = connection
        self._found: set[str] = set()  # the pair's exchanges seen to exist

    @classmethod
    @asynccontextmanager
    async def connect(cls, url: str, *, timeout: float = DEFAULT_TIMEOUT) -> AsyncIterator["CqrsClient"]:
        """Connect, yield, close. Every message says who sent it (user_id, the URL's user), which
        RabbitMQ checks. ``url`` may name several nodes of a cluster, separated by commas: the
        connection goes to the first that answers and, when it is lost, comes back on the next (a
        call in flight then fails or times out: ``attempts`` sends it again with the same command
        id). With one URL a lost connection is BrokerUnavailable. ``timeout`` is each call's default.
        """
        client = await cls.open(url, timeout=timeout)
        try:
            yield client
        finally:
            await client.aclose()

    @classmethod
    async def open(cls, url: str, *, timeout: float = DEFAULT_TIMEOUT) -> "CqrsClient":
        """A connected client, for a caller without ``async with``: ``await client.aclose()`` it."""
        urls = broker_urls(url)
        async with AsyncExitStack() as stack:
            try:
                if len(urls) > 1:
                    connection: AbstractConnection = await connect_failover(urls, timeout)
                else:
                    connection = await connect_first(urls, timeout)
            except (OSError, AMQPError, TimeoutError, ValueError) as error:
                where = ", ".join(_safe(each) for each in urls)
                raise BrokerUnavailable(f"cannot reach RabbitMQ at {where}: {error}") from None
            await stack.enter_async_context(connection)
            rpc = await stack.enter_async_context(RpcClient(connection))
            exchanges = (
                await rpc.channel.get_exchange(topology.COMMANDS_EXCHANGE, ensure=False),
                await rpc.channel.get_exchange(topology.QUERIES_EXCHANGE, ensure=False),
            )
            user = unquote(urlsplit(urls[0]).username or "") or None
            return cls(rpc, exchanges, timeout, user, stack.pop_all(), connection)
        raise AssertionError("unreachable")  # pragma: no cover  (mypy: the block returns)

    async def aclose(self) -> None:
        """Close the RPC channel and the connection (calls in flight are cancelled)."""
        await self._resources.aclose()

    async def send(
        self,
        command: Command,
        *,
        command_id: UUID | None = None,
        traceparent: str | None = None,
        timeout: float | None = None,
        attempts: int = 1,
    ) -> CommandReply:
        """Send a command and return its reply, accepted or rejected. ``command_id`` is the
        idempotency key (default: a new one, kept across this call's ``attempts``): a command that
        times out or whose connection drops is sent again, up to ``attempts`` times in all."""
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {attempts}")
        type_name = message_type(command)
        metadata = Metadata(
            message_id=command_id or uuid4(),
            type=type_name,
            schema_version=command.SCHEMA_VERSION,
            traceparent=traceparent or ambient_traceparent(),
        )
        body = command.model_dump_json().encode()
        for attempt in range(1, attempts + 1):
            try:
                reply = await self._call(self._commands, type_name, body, metadata, timeout)
                return _COMMAND_REPLY.validate_json(reply)
            except (RequestTimeout, BrokerUnavailable):
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def ask(
        self,
        query: Answered[R],
        *,
        traceparent: str | None = None,
        timeout: float | None = None,
        queue: str = topology.QUERY_QUEUE,
    ) -> R:
        """Ask a query (of the query service, or ``queue``'s); a structured error reply raises RemoteError.

        What it answers with is the query's own (``Answered`` in the contracts). The query service is
        asked through ``cqrs.queries``; another queue (the command service's streams, an
        operator's) through the default exchange.
        """
        answer: type[R] | None = result_of(type(query))
        if answer is None or not isinstance(query, Contract):
            raise TypeError(f"{type(query).__name__} is no query of the pair: it names no answer")
        type_name = message_type(query)
        metadata = Metadata(
            type=type_name,
            schema_version=query.SCHEMA_VERSION,
            traceparent=traceparent or ambient_traceparent(),
        )
        exchange = self._queries if queue == topology.QUERY_QUEUE else self._rpc.channel.default_exchange
        body = await self._call(exchange, queue, query.model_dump_json().encode(), metadata, timeout)
        reply = _reply_of(answer).validate_json(body)
        if isinstance(reply, QueryFailed):
            raise RemoteError(reply.error)
        return reply.result

    async def _call(
        self, exchange: AbstractExchange, key: str, body: bytes, metadata: Metadata, timeout: float | None
    ) -> bytes:
        wait = self._timeout if timeout is None else timeout
        if exchange.name and exchange.name not in self._found and self._connection is not None:
            await _require_exchange(self._connection, exchange.name)
            self._found.add(exchange.name)
        return await self._rpc.call(exchange, key, body, metadata, timeout=wait, user_id=self._user)


def raise_for_rejection(reply: CommandReply) -> CommandAccepted:
    """The accepted reply; a rejected one raises CommandRejectedError (a RemoteError, a ClientError)."""
    if isinstance(reply, CommandRejected):
        raise CommandRejectedError(reply.error, reply.command_id)
    return reply


async def _require_exchange(connection: AbstractConnection, name: str) -> None:
    """The pair's exchange ``name``, there before the first message to it: checked passively, else
    declared as the services declare it (an older query service left ``cqrs.queries`` to its
    clients), on a channel of its own. The client declares no queue: a classic queue made by a
    client would stop a quorum deployment's services from starting. A user that may not declare it
    is told plainly rather than having its RPC channel closed."""
    for passive in (True, False):
        channel = await connection.channel()
        try:
            await channel.declare_exchange(
                name, topology.CLIENT_EXCHANGES[name], durable=True, passive=passive
            )
        except ChannelNotFoundEntity:
            continue
        except ChannelAccessRefused:
            break
        await channel.close()
        return
    raise BrokerUnavailable(
        f"the exchange {name!r} does not exist on this vhost yet: start the services (they declare it), "
        "or check the URL's vhost"
    )


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"
