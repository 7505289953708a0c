"""The transport ceiling and the peers: one echo, three ways, each server a process of its own.

python -m bench.echo raw|jsonrpc|faststream AMQP_URL REPLY_BYTES   # prints "ready", serves until
                                                                         # SIGTERM
- raw: aio-pika written by hand, as the pair's own client and consumer are (direct reply-to, one
  reply consumer, futures by correlation id; the server acks after replying, replies not mandatory);
- jsonrpc: aio-pika's ``patterns.JsonRPC``, as shipped;
- faststream: FastStream's RabbitMQ subscriber answering ``broker.request()``, as shipped.

Each answers every request with a JSON body of REPLY_BYTES bytes, the size of the pair's reply to the
query it stands beside. Clients are ``async with echo_client(kind, url) as call: await call(body)``.
"""

import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from uuid import uuid4

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from aio_pika.patterns import JsonRPC

KINDS = ("raw", "jsonrpc", "faststream")
RAW_QUEUE = "bench.echo.raw"
JSONRPC_METHOD = "bench_echo"
FASTSTREAM_QUEUE = "bench.echo.faststream"
PREFETCH = 64  # the services' default (CQRS_PREFETCH)
TIMEOUT = 10.0
Call = Callable[[bytes], Awaitable[None]]


def reply_of(size: int) -> dict[str, str]:
    """A JSON object whose encoding is ``size`` bytes (at least 12)."""
    return {"echo": "x" * max(0, size - 12)}


async def serve_raw(url: str, reply: bytes, stopped: asyncio.Event) -> None:
    async with await aio_pika.connect(url) as connection:
        channel = await connection.channel(publisher_confirms=False)
        await channel.set_qos(prefetch_count=PREFETCH)
        queue = await channel.declare_queue(RAW_QUEUE, auto_delete=True)

        async def on_message(message: AbstractIncomingMessage) -> None:
            answer = aio_pika.Message(reply, correlation_id=message.correlation_id)
            await channel.default_exchange.publish(answer, message.reply_to or "", mandatory=False)
            await message.ack()

        await queue.consume(on_message)
        print("ready", flush=True)
        await stopped.wait()


async def serve_jsonrpc(url: str, reply: dict[str, str], stopped: asyncio.Event) -> None:
    async with await aio_pika.connect(url) as connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=PREFETCH)
        rpc = await JsonRPC.create(channel)

        async def echo(**_: Any) -> dict[str, str]:
            return reply

        await rpc.register(JSONRPC_METHOD, echo, auto_delete=True)
        print("ready", flush=True)
        await stopped.wait()


async def serve_faststream(url: str, reply: dict[str, str], stopped: asyncio.Event) -> None:
    from faststream.rabbit import Channel, RabbitBroker

    broker = RabbitBroker(url, default_channel=Channel(prefetch_count=PREFETCH), logger=None)

    @broker.subscriber(FASTSTREAM_QUEUE)
    async def echo(body: dict[str, Any]) -> dict[str, str]:
        return reply

    async with broker:
        await broker.start()
        print("ready", flush=True)
        await stopped.wait()


@asynccontextmanager
async def echo_client(kind: str, url: str) -> AsyncIterator[Call]:
    factory = {"raw": _raw_client, "jsonrpc": _jsonrpc_client, "faststream": _faststream_client}[kind]
    async with factory(url) as call:
        yield call


@asynccontextmanager
async def _raw_client(url: str) -> AsyncIterator[Call]:
    async with await aio_pika.connect(url) as connection:
        channel = await connection.channel(publisher_confirms=False)
        pending: dict[str, asyncio.Future[bytes]] = {}

        async def on_reply(message: AbstractIncomingMessage) -> None:
            future = pending.pop(message.correlation_id or "", None)
            if future is not None and not future.done():
                future.set_result(message.body)

        replies = await channel.declare_queue("amq.rabbitmq.reply-to", passive=True)
        await replies.consume(on_reply, no_ack=True)

        async def call(body: bytes) -> None:
            correlation_id = str(uuid4())
            future = asyncio.get_running_loop().create_future()
            pending[correlation_id] = future
            request = aio_pika.Message(body, correlation_id=correlation_id, reply_to="amq.rabbitmq.reply-to")
            await channel.default_exchange.publish(request, RAW_QUEUE, mandatory=False)
            await asyncio.wait_for(future, TIMEOUT)

        yield call


@asynccontextmanager
async def _jsonrpc_client(url: str) -> AsyncIterator[Call]:
    async with await aio_pika.connect(url) as connection:
        rpc = await JsonRPC.create(await connection.channel())

        async def call(body: bytes) -> None:
            await rpc.call(JSONRPC_METHOD, kwargs={"query": body.decode()}, expiration=int(TIMEOUT))

        yield call
        await rpc.close()


@asynccontextmanager
async def _faststream_client(url: str) -> AsyncIterator[Call]:
    from faststream.rabbit import RabbitBroker

    async with RabbitBroker(url) as broker:
        await broker.connect()

        async def call(body: bytes) -> None:
            answer = await broker.request(json.loads(body), queue=FASTSTREAM_QUEUE, timeout=TIMEOUT)
            await answer.decode()

        yield call


async def _serve(kind: str, url: str, size: int) -> None:
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopped.set)
    reply = reply_of(size)
    if kind == "raw":
        await serve_raw(url, json.dumps(reply).encode(), stopped)
    elif kind == "jsonrpc":
        await serve_jsonrpc(url, reply, stopped)
    else:
        await serve_faststream(url, reply, stopped)


if __name__ == "__main__":
    import uvloop

    which, amqp_url, reply_bytes = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if which not in KINDS:
        raise SystemExit(f"usage: python -m bench.echo {'|'.join(KINDS)} AMQP_URL REPLY_BYTES")
    uvloop.run(_serve(which, amqp_url, reply_bytes))
