"""A TCP proxy on loopback that can cut every connection through it: a network fault on demand.

Runs as its own process, so that the test's event loop cannot slow it down:

    python -m tests.faults.proxy HOST PORT    # prints its port; SIGUSR1 cuts; SIGUSR2 takes the
                                              # broker away (cut, refuse) or brings it back;
                                              # SIGHUP freezes it (connections stay open, no byte
                                              # passes: a node gone without a word); SIGTERM ends it
"""

import asyncio
import contextlib
import signal
import sys


class Proxy:
    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._writers: set[asyncio.StreamWriter] = set()
        self._down = False
        self._thawed = asyncio.Event()
        self._thawed.set()

    async def serve(self) -> None:
        server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, self.cut)
        loop.add_signal_handler(signal.SIGUSR2, self.toggle)
        loop.add_signal_handler(signal.SIGHUP, self.freeze)
        stopped = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stopped.set)
        async with server:
            await stopped.wait()
        self.cut()

    def cut(self) -> None:
        """Drop every open connection, as a broken network would; new ones are accepted again."""
        print(f"cut {len(self._writers) // 2}", flush=True)
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def toggle(self) -> None:
        """The broker goes away (every connection cut, new ones refused) or comes back."""
        self._down = not self._down
        print("down" if self._down else "up", flush=True)
        if self._down:
            for writer in list(self._writers):
                writer.transport.abort()
            self._writers.clear()

    def freeze(self) -> None:
        """No byte passes any more, and no connection is closed: what a peer sees of a lost node."""
        self._thawed.clear()
        print("frozen", flush=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._down:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                await self._thawed.wait()
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
        self._writers.discard(writer)


if __name__ == "__main__":
    asyncio.run(Proxy(sys.argv[1], int(sys.argv[2])).serve())
