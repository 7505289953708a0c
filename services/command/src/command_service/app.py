"""The composition root: builds pools, channels and consumers, and runs until stopped."""

import asyncio
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from functools import partial

import asyncpg
from aio_pika.abc import AbstractConnection, AbstractQueue

from command_service.entrypoint import COMMANDS, STREAM_READS, command_error, on_command, on_read_stream
from command_service.health import CommandHealth
from command_service.migrate import migrate
from command_service.process.runner import Timing, TransferRunner
from command_service.process.store import ProcessStore
from command_service.recent_states import RecentStates
from command_service.relay import Relay
from command_service.settings import CommandSettings
from command_service.store import PostgresEventStore, open_pool, session
from command_service.stream_commands import StreamCommands
from command_service.transient import is_transient
from cqrs_client.messaging import topology
from cqrs_client.messaging.channels import open_channel
from cqrs_shared.messaging.consumer import Consumer
from cqrs_shared.messaging.links import open_links
from cqrs_shared.messaging.watchdog import watch
from cqrs_shared.observability.probes import serve_probes
from cqrs_shared.runtime import collector
from cqrs_shared.runtime.keyed_lock import KeyedLock

log = logging.getLogger(__name__)


async def _migrate(pool: asyncpg.Pool) -> None:
    async with session(pool) as conn:
        applied = await migrate(conn)
    for name in applied:
        log.info("migrated: %s", name)
    log.info("database schema up to date (%d migration(s) applied now)", len(applied))


async def migrate_database(settings: CommandSettings) -> None:
    """``command-service migrate``: apply what is missing, then return (an init container, a job)."""
    async with open_pool(str(settings.postgres_dsn), max_size=1) as pool:
        await _migrate(pool)


async def serve(settings: CommandSettings, stopped: asyncio.Event) -> None:
    """Run the command service until ``stopped`` is set, then finish in-flight work and close."""
    async with AsyncExitStack() as stack:
        pool = await stack.enter_async_context(open_pool(str(settings.postgres_dsn)))
        if settings.migrate_on_start:
            await _migrate(pool)
        store = PostgresEventStore(pool)
        links = await open_links(stack, settings.broker_urls(), settings.broker_user())
        connection, broker_up, responder = links.connection, links.up, links.responder
        # Everything is declared on the channel that uses it: a robust channel re-declares what it
        # declared, and restores its consumers, after the broker connection comes back.
        relay = await _relay(stack, connection, store, settings)
        relay_task = asyncio.create_task(relay.supervise(pool, stopped), name="relay")
        commands, streams = await _queues(stack, connection, settings)
        consume = partial(
            Consumer, responder=responder, transient=is_transient, max_bytes=settings.max_message_bytes
        )
        locks = KeyedLock()  # one per process: the entry point's and the transfer process manager's
        recent = RecentStates(settings.recent_states)
        handle = partial(on_command, commands=StreamCommands(store, locks, recent), grants=settings.grants())
        await _transfers(stack, connection, pool, store, locks, recent, settings, stopped, consume)
        checks = CommandHealth(pool, store, broker_up)
        async with (
            _probes(settings, checks),
            consume(
                commands,
                handle,
                types=COMMANDS.types,
                error_reply=command_error,
                retry=settings.retry_policy(),
            ),
            consume(
                streams,
                partial(on_read_stream, store=store, readers=frozenset(settings.event_readers)),
                types=STREAM_READS.types,
            ),
        ):
            log.debug("froze %d objects made at start (collector.settle)", collector.settle())
            log.info("command service ready")
            try:
                # Until stopped; or until the broker stays away too long, then stop (crash-only).
                await watch(broker_up, stopped, settings.broker_grace)
            finally:
                stopped.set()
            log.info("stopping: finishing in-flight commands")
        await relay_task
    log.info("command service stopped")


async def _relay(
    stack: AsyncExitStack,
    connection: AbstractConnection,
    store: PostgresEventStore,
    settings: CommandSettings,
) -> Relay:
    """The outbox relay, publishing on a channel of its own (with returns: an unroutable event shows)."""
    channel = await open_channel(stack, connection, returns=True)
    events = await topology.declare_events(channel)
    return Relay(
        store,
        events,
        batch_size=settings.relay_batch_size,
        poll_interval=settings.relay_poll_interval,
        round_interval=settings.relay_round_interval,
    )


async def _queues(
    stack: AsyncExitStack, connection: AbstractConnection, settings: CommandSettings
) -> tuple[AbstractQueue, AbstractQueue]:
    """The commands' queue (with its retry queues) and the stream reads' queue, on one channel."""
    channel = await open_channel(stack, connection, prefetch=settings.prefetch)
    kind = settings.queue_kind()
    _, commands = await topology.declare_commands(channel, kind, settings.retry_policy().delays())
    return commands, await topology.declare_stream_queue(channel, kind)


async def _transfers(
    stack: AsyncExitStack,
    connection: AbstractConnection,
    pool: asyncpg.Pool,
    store: PostgresEventStore,
    locks: KeyedLock,
    recent: RecentStates,
    settings: CommandSettings,
    stopped: asyncio.Event,
    consume: Callable[..., Consumer],
) -> None:
    """The transfer process manager: its queue's consumer on a channel of its own, and its sweeper,
    a task until ``stopped``; both end (in-flight work finished) as the stack closes."""
    channel = await open_channel(stack, connection, prefetch=settings.prefetch)
    queue = await topology.declare_transfer_queue(channel, settings.queue_kind())
    timing = Timing(settings.transfer_step_timeout, settings.transfer_budget)
    runner = TransferRunner(ProcessStore(pool), store, locks, timing, recent)
    sweeper = asyncio.create_task(runner.sweeping(stopped), name="transfer-sweeper")
    stack.push_async_callback(asyncio.wait_for, sweeper, None)
    await stack.enter_async_context(consume(queue, runner.on_event))


def _probes(settings: CommandSettings, checks: CommandHealth) -> AbstractAsyncContextManager[int]:
    return serve_probes(
        "command", settings.http_host, settings.command_http_port, checks.readiness, checks.refresh_metrics
    )
