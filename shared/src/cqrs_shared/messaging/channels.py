"""Open a channel whose closing belongs to an AsyncExitStack (the composition roots use this)."""

from contextlib import AsyncExitStack

from aio_pika.abc import AbstractChannel, AbstractConnection


async def open_channel(
    stack: AsyncExitStack, connection: AbstractConnection, *, confirms: bool = True, prefetch: int = 0
) -> AbstractChannel:
    channel = await connection.channel(publisher_confirms=confirms)
    stack.push_async_callback(channel.close)
    if prefetch:
        await channel.set_qos(prefetch_count=prefetch)
    return channel
