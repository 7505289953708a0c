"""A minimal AMQP 0-9-1 publisher over a plain socket, for frames no ordinary client would write.

    async with raw_publisher("amqp://cqrs-admin:cqrs-admin@127.0.0.1:5672/cqrs") as send:
        await send(frames)          # returns once the broker confirmed the publish
        await send.many([frames, ...])

pamqp (aiormq's codec) marshals the handshake; the publish frames come from tests/hostile_frames.py.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import unquote, urlsplit

from pamqp import commands, frame
from pamqp.base import Frame
from pamqp.exceptions import UnmarshalingException
from pamqp.header import ProtocolHeader

TIMEOUT = 10.0


class _Frames:
    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self._buffer = b""

    async def next(self) -> Frame:
        while True:
            try:
                used, _, found = frame.unmarshal(self._buffer)
            except UnmarshalingException:
                chunk = await self._reader.read(65536)
                if not chunk:
                    raise ConnectionError("the broker closed the connection") from None
                self._buffer += chunk
                continue
            self._buffer = self._buffer[used:]
            if not isinstance(found, commands.Connection.Blocked | commands.Connection.Unblocked):
                return found  # type: ignore[return-value]

    async def expect(self, kind: type[Frame]) -> Frame:
        found = await self.next()
        if not isinstance(found, kind):
            raise ConnectionError(f"expected {kind.__name__}, got {found!r}")
        return found


class Publisher:
    """Publishes raw frames on channel 1 of its connection, with publisher confirms."""

    def __init__(self, writer: asyncio.StreamWriter, frames: _Frames) -> None:
        self._writer = writer
        self._frames = frames
        self._published = 0
        self._confirmed = 0

    async def __call__(self, data: bytes) -> None:
        await self.many([data])

    async def many(self, publishes: list[bytes]) -> None:
        """Write every publish, then wait until the broker has confirmed them all."""
        self._writer.write(b"".join(publishes))
        self._published += len(publishes)
        async with asyncio.timeout(TIMEOUT + len(publishes) / 100):
            while self._confirmed < self._published:
                found = await self._frames.next()
                if not isinstance(found, commands.Basic.Ack):
                    raise ConnectionError(f"expected Basic.Ack, got {found!r}")
                self._confirmed = max(self._confirmed, found.delivery_tag)


@asynccontextmanager
async def raw_publisher(url: str) -> AsyncIterator[Publisher]:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname or "127.0.0.1", parts.port or 5672)
    frames = _Frames(reader)
    try:
        async with asyncio.timeout(TIMEOUT):
            writer.write(ProtocolHeader().marshal())
            await frames.expect(commands.Connection.Start)
            login = f"\0{unquote(parts.username or '')}\0{unquote(parts.password or '')}"
            writer.write(frame.marshal(commands.Connection.StartOk(mechanism="PLAIN", response=login), 0))
            tune = await frames.expect(commands.Connection.Tune)
            assert isinstance(tune, commands.Connection.Tune)
            writer.write(
                frame.marshal(commands.Connection.TuneOk(tune.channel_max, tune.frame_max, heartbeat=0), 0)
            )
            vhost = unquote(parts.path[1:]) or "/"
            writer.write(frame.marshal(commands.Connection.Open(virtual_host=vhost), 0))
            await frames.expect(commands.Connection.OpenOk)
            writer.write(frame.marshal(commands.Channel.Open(), 1))
            await frames.expect(commands.Channel.OpenOk)
            writer.write(frame.marshal(commands.Confirm.Select(), 1))
            await frames.expect(commands.Confirm.SelectOk)
        yield Publisher(writer, frames)
    finally:
        writer.close()
        await writer.wait_closed()
