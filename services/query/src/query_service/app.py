"""The composition root: MongoDB, RabbitMQ, the projector and the query RPC server."""

import asyncio
import logging
from contextlib import AsyncExitStack
from functools import partial

from aio_pika import RobustChannel
from aio_pika.abc import AbstractChannel, AbstractQueue
from pymongo.errors import PyMongoError

from cqrs_shared.contracts import Metadata
from cqrs_shared.errors import StartupError
from cqrs_shared.messaging import topology
from cqrs_shared.messaging.channels import open_channel, open_connection
from cqrs_shared.messaging.consumer import Consumer, Handler
from cqrs_shared.messaging.envelope import outgoing
from cqrs_shared.messaging.publishing import publish
from cqrs_shared.messaging.responder import Responder
from cqrs_shared.messaging.rpc import RpcClient
from cqrs_shared.messaging.watchdog import health, watch
from cqrs_shared.observability.logs import redact
from cqrs_shared.observability.probes import serve_probes
from query_service.entrypoint import EVENT_TYPES, QUERIES, REBUILD, on_event, on_operation, on_query
from query_service.health import QueryHealth
from query_service.operations.answers import Operations
from query_service.operations.rebuild import Rebuilder
from query_service.projection.consistency import Consistency
from query_service.projection.projector import Projector
from query_service.projection.repair import StreamReader
from query_service.read_model.model import ReadModel
from query_service.read_model.store import open_database
from query_service.read_model.upgrade import upgrade_layout
from query_service.settings import QuerySettings
from query_service.subscription.event_queues import EventQueues
from query_service.subscription.sharing import SharedPartitions
from query_service.subscription.takeback import take_back
from query_service.transient import is_transient

log = logging.getLogger(__name__)

# Operations are few and a verify reads a whole stream: a handful at a time is plenty.
OPERATIONS_PREFETCH = 4


async def serve(settings: QuerySettings, stopped: asyncio.Event) -> None:
    """Run the query service until ``stopped`` is set, then finish in-flight work and close."""
    async with AsyncExitStack() as stack:
        db = await stack.enter_async_context(
            open_database(str(settings.mongodb_url), settings.mongodb_database)
        )
        partitioned = settings.event_partitions > 1
        # The view cache is safe only where one process applies every event (cache.py).
        model = ReadModel(db, cache_size=0 if partitioned else settings.read_cache_size)
        try:
            await model.load()
            await model.store.ensure_indexes()
            await upgrade_layout(db, model.store.generation)
        except PyMongoError as error:
            url = redact(str(settings.mongodb_url))
            raise StartupError(f"cannot prepare the read model at {url}: {error!r}") from None
        consistency = Consistency(model, settings.max_wait)

        connection = await open_connection(stack, settings.broker_urls())
        broker_up = health(connection)
        kind = settings.queue_kind()
        # Queues are declared on the channels that consume them, so that a robust channel restores
        # them and their consumers after the broker connection comes back.
        dead_letters = await open_channel(stack, connection)
        replies = await open_channel(stack, connection, confirms=False)
        responder = Responder(replies, dead_letters, settings.broker_user())
        rpc = await stack.enter_async_context(RpcClient(connection))
        read_stream = StreamReader(rpc, rpc.channel.default_exchange, settings.repair_timeout)

        retry = settings.retry_policy()
        layout = EventQueues(settings.event_partitions, kind, retry.delays())
        events_channel = await open_channel(stack, connection, prefetch=settings.prefetch)
        events = await layout.declare_all(connection, events_channel)
        if not partitioned:
            _stop_caching_when_lost(events_channel, model)
        await take_back(connection, layout.names())
        queries_channel = await open_channel(stack, connection, prefetch=settings.prefetch)
        requests = await topology.declare_query_queue(queries_channel, kind)
        operators_channel = await open_channel(stack, connection, prefetch=OPERATIONS_PREFETCH)
        operations_queue = await topology.declare_operations_queue(operators_channel, kind)
        checks = QueryHealth(db, events, broker_up, settings.ready_max_lag)
        projector = Projector(model, read_stream)
        rebuilder = Rebuilder(model, projector, read_stream, read_stream.list_streams)
        rebuild_to = layout.names()[0]
        stack.push_async_callback(rebuilder.stop)
        project_event = partial(on_event, projector=projector, consistency=consistency, rebuilder=rebuilder)

        def consume(queue: AbstractQueue, handle: Handler, *, events: bool = False) -> Consumer:
            """An event is retried through the retry queues; a query is answered, never retried."""
            return Consumer(
                queue,
                handle,
                responder,
                transient=is_transient,
                retry=retry if events else None,
                types=EVENT_TYPES if events else QUERIES.types,
                max_bytes=settings.max_message_bytes,
            )

        consume_events = partial(consume, events=True)
        sharing = (
            SharedPartitions(
                connection,
                settings.event_partitions,
                layout.declare,
                consume_events,
                project_event,
                settings.prefetch,
            )
            if partitioned
            else None
        )
        projecting = sharing or consume_events(events[0], project_event)
        operations = Operations(
            model,
            read_stream,
            consistency,
            partial(hand_on_rebuild, dead_letters, rebuild_to),
            sharing.replicas if sharing is not None else lambda: 1,
        )
        async with (
            serve_probes(
                "query",
                settings.http_host,
                settings.query_http_port,
                checks.readiness,
                checks.refresh_metrics,
            ),
            projecting,
            consume(requests, partial(on_query, model=model, consistency=consistency, operations=operations)),
            consume(
                operations_queue,
                partial(
                    on_operation,
                    model=model,
                    consistency=consistency,
                    operations=operations,
                    operators=frozenset(settings.operators),
                ),
            ),
        ):
            log.info("query service ready")
            following = asyncio.create_task(model.follow(stopped), name="generation follower")
            try:
                # Until stopped; or until the broker stays away too long, then stop (crash-only).
                await watch(broker_up, stopped, settings.broker_grace)
            finally:
                stopped.set()
                await following
            log.info("stopping: finishing in-flight events and queries")
    log.info("query service stopped")


def _stop_caching_when_lost(channel: AbstractChannel, model: ReadModel) -> None:
    """Without its event channel this process may no longer be the one that projects: the views it
    keeps go (cache.py), until an event arrives again on the restored channel."""

    def lost(*_: object) -> None:
        model.cache.disable()

    channel.close_callbacks.add(lost)
    if isinstance(channel, RobustChannel):
        channel.reopen_callbacks.add(lost)


async def hand_on_rebuild(channel: AbstractChannel, queue: str) -> None:
    """Put a rebuild request on the (first) event queue: its single active consumer, a process that
    projects, runs the rebuild (confirmed, so that the request is not lost on the way)."""
    message = outgoing(b"{}", Metadata(type=REBUILD))
    await publish(channel.default_exchange, message, queue, mandatory=True)
