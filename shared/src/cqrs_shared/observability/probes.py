"""The HTTP endpoint of a service: /healthz (alive), /readyz (can do its job), /metrics (Prometheus).

async with serve_probes("command", settings.http_host, 8081, readiness, refresh):
    ...   # every check and refresh is bounded by CHECK_TIMEOUT_SECONDS
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from cqrs_client.errors import StartupError
from cqrs_shared.observability import metrics as shared_metrics
from cqrs_shared.observability.readiness import Check, Readiness

log = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 2.0


Probe = Callable[[], Awaitable[Readiness]]
Refresh = Callable[[], Awaitable[None]]


def _app(service: str, probe: Probe, refresh: Refresh) -> web.Application:
    async def healthz(_: web.Request) -> web.Response:
        # Answering at all proves the event loop runs.
        return web.json_response({"service": service, "alive": True})

    async def judged() -> Readiness:
        """The checks' verdict, also kept in the gauge cqrs_ready."""
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                readiness = await probe()
        except TimeoutError:
            late = Check(ok=False, reason=f"not answered within {CHECK_TIMEOUT_SECONDS:g} s")
            readiness = Readiness.of(service, {"checks": late})
        shared_metrics.READY.set(1 if readiness.ready else 0)
        return readiness

    async def readyz(_: web.Request) -> web.Response:
        readiness = await judged()
        return web.Response(
            text=readiness.model_dump_json(exclude_none=True),
            content_type="application/json",
            status=200 if readiness.ready else 503,
        )

    async def metrics(_: web.Request) -> web.Response:
        try:
            await judged()
        except Exception as error:  # a check that failed unexpectedly: not ready, and still serve
            shared_metrics.READY.set(0)
            log.warning("metrics: could not judge readiness: %r", error)
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                await refresh()
        except Exception as error:  # the counters still count: serve them, say why gauges are old
            log.warning("metrics: could not refresh the gauges: %r", error)
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app


@asynccontextmanager
async def serve_probes(
    service: str, host: str, port: int, probe: Probe, refresh: Refresh
) -> AsyncIterator[int]:
    """Serve the endpoint until the block ends; yields the port (a free one when ``port`` is 0)."""
    runner = web.AppRunner(_app(service, probe, refresh), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as error:
            raise StartupError(
                f"cannot serve /healthz, /readyz and /metrics on {host}:{port}: {error}"
            ) from None
        bound: int = runner.addresses[0][1]
        log.info("health and metrics on http://%s:%d", host, bound)
        yield bound
    finally:
        await runner.cleanup()
