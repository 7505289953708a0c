"""The composition root: MongoDB, RabbitMQ, the projector and the query RPC server."""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractQueue
from pymongo.errors import PyMongoError

from cqrs_client.errors import StartupError
from cqrs_client.messaging import topology
from cqrs_client.messaging.channels import open_channel
from cqrs_client.messaging.envelope import outgoing
from cqrs_client.messaging.publishing import publish
from cqrs_client.messaging.rpc import RpcClient
from cqrs_client.redaction import redact
from cqrs_contracts import Metadata
from cqrs_shared.messaging.consumer import Consumer, Handler, Outcome
from cqrs_shared.messaging.links import open_links
from cqrs_shared.messaging.responder import Responder
from cqrs_shared.messaging.retry import RetryPolicy
from cqrs_shared.messaging.watchdog import watch
from cqrs_shared.observability.probes import serve_probes
from cqrs_shared.runtime import collector
from query_service.entrypoint import EVENT_TYPES, QUERIES, REBUILD, on_event, on_operation, on_query
from query_service.health import QueryHealth
from query_service.operations.answers import Operations
from query_service.operations.rebuild import Rebuilder
from query_service.projection.catchup import CatchUp
from query_service.projection.consistency import Consistency
from query_service.projection.positions import AppliedPositions
from query_service.projection.projector import Projector
from query_service.projection.repair import StreamReader
from query_service.read_model.model import ReadModel
from query_service.read_model.store import open_database
from query_service.read_model.upgrade import upgrade_layout
from query_service.settings import QuerySettings
from query_service.subscription.event_queues import EventQueues
from query_service.subscription.sharing import Subscription
from query_service.subscription.takeback import take_back
from query_service.transient import is_transient

log = logging.getLogger(__name__)
Q = TypeVar("Q", AbstractQueue, list[AbstractQueue])


async def serve(settings: QuerySettings, stopped: asyncio.Event) -> None:
    """Run the query service until ``stopped`` is set, then finish in-flight work and close."""
    async with AsyncExitStack() as stack:
        model = await _read_model(stack, settings)
        broker = await _Broker.open(stack, settings)
        consistency = Consistency(model, settings.max_wait)
        positions = AppliedPositions()
        projector = Projector(model, broker.read_stream, positions)
        catch_up = CatchUp(model, projector, broker.read_stream.read_all, positions)
        consistency.catching_up = catch_up.behind
        reader = broker.read_stream
        rebuilder = Rebuilder(model, projector, reader, reader.list_streams, reader.head)
        stack.push_async_callback(rebuilder.stop)
        queues = EventQueues(settings.event_partitions, settings.queue_kind(), broker.retry.delays())
        events = await broker.declare(
            stack, settings.prefetch, partial(queues.declare_all, broker.connection)
        )
        await take_back(broker.connection, queues.names())
        project = partial(on_event, projector=projector, consistency=consistency, rebuilder=rebuilder)
        subscription = Subscription(
            broker.connection, queues, broker.events, project, settings.prefetch, _caching(model)
        )
        rebuild_to = partial(hand_on_rebuild, broker.dead_letters, queues.names()[0])
        operations = Operations(model, broker.read_stream, consistency, rebuild_to, subscription.shared)
        answer = partial(_answering, model=model, consistency=consistency, operations=operations)
        requests, operators = await broker.rpc_queues(stack)
        checks = QueryHealth(model.db, events, broker.up, settings.ready_max_lag, catch_up.behind)
        async with (
            _probes(settings, checks),
            broker.consume(requests, answer(on_query)),
            broker.consume(operators, answer(partial(on_operation, operators=frozenset(settings.operators)))),
            _watching(broker.up, stopped, settings.broker_grace),
        ):
            # The event queues are bound already: what commits while this reads waits there.
            await catch_up.run(stopped)
            if stopped.is_set():
                return
            async with subscription:
                await _until_stopped(model, catch_up, subscription, stopped)
    log.info("query service stopped")


async def _read_model(stack: AsyncExitStack, settings: QuerySettings) -> ReadModel:
    """The read model, its generation loaded, its indexes made and its layout brought up to date."""
    db = await stack.enter_async_context(open_database(str(settings.mongodb_url), settings.mongodb_database))
    model = ReadModel(db, cache_size=settings.read_cache_size)
    try:
        await model.load()
        await model.store.ensure_indexes()
        await upgrade_layout(db, model.store.generation)
    except PyMongoError as error:
        url = redact(str(settings.mongodb_url))
        raise StartupError(f"cannot prepare the read model at {url}: {error!r}") from None
    return model


@dataclass(frozen=True)
class _Broker:
    """The consuming connection (replies have their own: messaging/links.py), the dead letters' channel,
    the responder, and consumers on this service's terms."""

    settings: QuerySettings
    connection: AbstractConnection
    up: asyncio.Event
    dead_letters: AbstractChannel
    responder: Responder
    read_stream: StreamReader

    @classmethod
    async def open(cls, stack: AsyncExitStack, settings: QuerySettings) -> "_Broker":
        links = await open_links(stack, settings.broker_urls(), settings.broker_user())
        rpc = await stack.enter_async_context(RpcClient(links.connection))
        return cls(
            settings,
            links.connection,
            links.up,
            links.dead_letters,
            links.responder,
            StreamReader(rpc, rpc.channel.default_exchange, settings.repair_timeout),
        )

    @property
    def retry(self) -> RetryPolicy:
        return self.settings.retry_policy()

    async def declare(
        self, stack: AsyncExitStack, prefetch: int, declare: Callable[[AbstractChannel], Awaitable[Q]]
    ) -> Q:
        """Queues declared on the channel that consumes them: a robust channel restores them and
        their consumers after the broker connection comes back."""
        return await declare(await open_channel(stack, self.connection, prefetch=prefetch))

    async def rpc_queues(self, stack: AsyncExitStack) -> tuple[AbstractQueue, AbstractQueue]:
        """The queries' queue and the operators' queue, each on a channel of its own."""
        kind = self.settings.queue_kind()
        requests = partial(topology.declare_query_queue, kind=kind)
        operators = partial(topology.declare_operations_queue, kind=kind)
        return (
            await self.declare(stack, self.settings.prefetch, requests),
            await self.declare(stack, topology.OPERATIONS_AT_ONCE, operators),
        )

    def consume(self, queue: AbstractQueue, handle: Handler, *, events: bool = False) -> Consumer:
        """A query or an operation is answered, never retried; an event that fails for a transient
        reason is retried through the retry queues."""
        return Consumer(
            queue,
            handle,
            self.responder,
            transient=is_transient,
            retry=self.retry if events else None,
            types=EVENT_TYPES if events else QUERIES.types,
            max_bytes=self.settings.max_message_bytes,
        )

    def events(self, queue: AbstractQueue, handle: Handler) -> Consumer:
        return self.consume(queue, handle, events=True)


def _answering(
    entry: Callable[..., Awaitable[Outcome]],
    model: ReadModel,
    consistency: Consistency,
    operations: Operations,
) -> Handler:
    """A query or operation entry point with what it answers from."""
    return partial(entry, model=model, consistency=consistency, operations=operations)


def _probes(settings: QuerySettings, checks: QueryHealth) -> AbstractAsyncContextManager[int]:
    return serve_probes(
        "query", settings.http_host, settings.query_http_port, checks.readiness, checks.refresh_metrics
    )


def _caching(model: ReadModel) -> Callable[[bool], None]:
    """The view cache follows the subscription: on while this replica alone projects everything."""
    return lambda everything: model.cache.enable() if everything else model.cache.disable()


@asynccontextmanager
async def _watching(broker_up: asyncio.Event, stopped: asyncio.Event, grace: float) -> AsyncIterator[None]:
    """Until the block ends: stop (crash-only) when the broker stays away longer than ``grace``."""

    async def watching() -> None:
        try:
            await watch(broker_up, stopped, grace)
        finally:
            stopped.set()

    task = asyncio.create_task(watching(), name="broker watch")
    try:
        yield
    finally:
        stopped.set()
        await task


async def _until_stopped(
    model: ReadModel, catch_up: CatchUp, subscription: Subscription, stopped: asyncio.Event
) -> None:
    log.debug("froze %d objects made at start (collector.settle)", collector.settle())
    log.info("query service ready")
    following = asyncio.create_task(model.follow(stopped), name="generation follower")
    keeping = asyncio.create_task(
        catch_up.keep(stopped, subscription.projects_everything), name="checkpoint keeper"
    )
    try:
        await stopped.wait()
    finally:
        stopped.set()
        await following
        await keeping
    log.info("stopping: finishing in-flight events and queries")


async def hand_on_rebuild(channel: AbstractChannel, queue: str) -> None:
    """Put a rebuild request on the (first) event queue: its single active consumer, a process that
    projects, runs the rebuild (confirmed, so that the request is not lost on the way)."""
    message = outgoing(b"{}", Metadata(type=REBUILD))
    await publish(channel.default_exchange, message, queue, mandatory=True)
