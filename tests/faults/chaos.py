"""A pair under faults: the command service killed (`kill -9`) and started again, the broker
connection cut (tests/faults/proxy.py), and any service that exits by itself (the broker watchdog
giving up after a cut) started again, as `make run`'s supervisor would; every fault counted.

chaos = Chaos(own, services, log_dir)
async with chaos.watching():                # restarts a service that exited by itself
    await chaos.kill_command()              # SIGKILL, a new process, ready again
    await chaos.cut_broker()                # every connection through the proxy dropped
    await chaos.ready()                     # both processes up and /readyz 200 (bounded)
"""

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from tests.own import Own, Services
from tests.pair import Service, start, wait_ready
from tests.waiting import until

WATCH_EVERY = 0.2  # seconds between looks at the processes
READY_WITHIN = 60.0


@dataclass
class Counts:
    kills: int = 0
    cuts: int = 0
    connections_cut: int = 0
    restarts: int = 0  # services that exited by themselves (the watchdog) and were started again


class Chaos:
    def __init__(self, own: Own, services: Services, log_dir: Path) -> None:
        assert own.proxy is not None, "the pair must run behind a proxy (own_resources(proxied=True))"
        assert own.proxy.stdout is not None
        self._own = own
        self._proxy = own.proxy
        self._proxy_out = own.proxy.stdout
        self.services = services
        self._log_dir = log_dir
        self._turn = asyncio.Lock()  # one replacement of a process at a time
        self.counts = Counts()

    async def kill_command(self) -> None:
        """SIGKILL the command service (no draining, no ack), then a new one, ready."""
        async with self._turn:
            old = self.services.command
            old.process.send_signal(signal.SIGKILL)
            await asyncio.to_thread(old.process.wait, 10)
            self.counts.kills += 1
            self.services.command = await self._started("command-own", "command_service")

    async def cut_broker(self) -> None:
        """Drop every connection through the proxy (both services'); they reconnect, or exit and
        are started again by ``watching``."""
        self._proxy.send_signal(signal.SIGUSR1)
        said = (await asyncio.wait_for(self._proxy_out.readline(), 10)).decode().split()
        assert said[0] == "cut", said
        self.counts.cuts += 1
        self.counts.connections_cut += int(said[1])

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[None]:
        watcher = asyncio.create_task(self._watch(), name="chaos-watcher")
        try:
            yield
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def ready(self) -> None:
        """Both services running and answering /readyz with 200, within READY_WITHIN seconds."""

        async def both() -> bool:
            async with self._turn:
                services = (self.services.command, self.services.query)
                return all([await _ready(service) for service in services])

        await until(both, timeout=READY_WITHIN, what=f"both services ready:\n{self.tails()}")

    def tails(self, chars: int = 3000) -> str:
        """The end of each service's current log, for a failure's message."""
        return "\n".join(
            f"--- {service.name}:\n{service.output()[-chars:]}"
            for service in (self.services.command, self.services.query)
        )

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_EVERY)
            async with self._turn:
                if self.services.command.process.poll() is not None:
                    self.counts.restarts += 1
                    self.services.command = await self._started("command-own", "command_service")
                if self.services.query.process.poll() is not None:
                    self.counts.restarts += 1
                    self.services.query = await self._started("query-own", "query_service")

    async def _started(self, name: str, module: str) -> Service:
        service = start(name, module, self._own.env, self._log_dir)
        await wait_ready(service, timeout=READY_WITHIN)
        return service


async def _ready(service: Service) -> bool:
    if service.process.poll() is not None:
        return False
    try:
        timeout = aiohttp.ClientTimeout(total=5)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(service.url + "/readyz") as response,
        ):
            return response.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False
