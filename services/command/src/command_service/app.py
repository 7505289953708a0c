"""The composition root: builds pools, channels and consumers, and runs until stopped."""

import asyncio
import logging
from contextlib import AsyncExitStack
from functools import partial

import aio_pika

from command_service.entrypoint import command_error, on_command, on_read_stream
from command_service.migrate import migrate
from command_service.relay import Relay
from command_service.settings import CommandSettings
from command_service.store import EventStore, open_pool
from command_service.transient import is_transient
from cqrs_shared.keyed_lock import KeyedLock
from cqrs_shared.messaging import topology
from cqrs_shared.messaging.channels import open_channel
from cqrs_shared.messaging.consumer import Consumer, Responder

log = logging.getLogger(__name__)


async def serve(settings: CommandSettings, stopped: asyncio.Event) -> None:
    """Run the command service until ``stopped`` is set, then finish in-flight work and close."""
    async with AsyncExitStack() as stack:
        pool = await stack.enter_async_context(open_pool(str(settings.postgres_dsn)))
        async with pool.acquire() as conn:
            for name in await migrate(conn):
                log.info("migrated: %s", name)
        store = EventStore(pool)

        connection = await stack.enter_async_context(
            await aio_pika.connect_robust(str(settings.rabbitmq_url))
        )
        setup = await open_channel(stack, connection)
        _, command_queue = await topology.declare_commands(setup)
        events = await topology.declare_events(setup)
        stream_queue = await topology.declare_queue(setup, topology.STREAM_QUEUE)
        responder = Responder(await open_channel(stack, connection, confirms=False), setup)

        relay_channel = await open_channel(stack, connection)
        relay = Relay(
            store,
            await relay_channel.get_exchange(events.name, ensure=False),
            batch_size=settings.relay_batch_size,
            poll_interval=settings.relay_poll_interval,
        )
        relay_task = asyncio.create_task(relay.supervise(pool, stopped), name="relay")

        consume = await open_channel(stack, connection)
        await consume.set_qos(prefetch_count=settings.prefetch)
        queue = await consume.get_queue(command_queue.name, ensure=False)
        streams = await consume.get_queue(stream_queue.name, ensure=False)
        async with (
            Consumer(
                queue,
                partial(on_command, store=store, streams=KeyedLock()),
                responder,
                transient=is_transient,
                error_reply=command_error,
            ),
            Consumer(streams, partial(on_read_stream, store=store), responder, transient=is_transient),
        ):
            log.info("command service ready")
            await stopped.wait()
            log.info("stopping: finishing in-flight commands")
        await relay_task
    log.info("command service stopped")
