"""SIGTERM stops a service within CQRS_DRAIN_SECONDS, also when its broker node is gone without a word.

A node that dies under a cluster leaves its connections open and silent until heartbeats notice; every
wait of a drain on such a connection hangs (seen in CI after the cluster test's node loss: the query
service still draining 40 s after SIGTERM). The proxy freezes: connections stay open, no byte passes.
"""

import asyncio
import signal
import time
from pathlib import Path

from cqrs_shared.runtime.drain import CUT_SHORT
from tests.own import own_resources, running
from tests.pair import Service
from tests.resources import Servers

BUDGET = 6.0
# The interpreter's start of exit and the log flush, beyond the budget itself.
MARGIN = 4.0


async def timed_stop(service: Service) -> tuple[int, float]:
    started = time.monotonic()
    status = await asyncio.to_thread(service.stop)
    return status, time.monotonic() - started


async def test_sigterm_stops_both_services_within_their_budget_while_the_broker_is_frozen(
    servers: Servers, tmp_path: Path
) -> None:
    async with (
        own_resources(servers, {"CQRS_DRAIN_SECONDS": str(BUDGET)}, proxied=True) as own,
        running(own.env, tmp_path) as services,
    ):
        assert own.proxy is not None
        assert own.proxy.stdout is not None
        own.proxy.send_signal(signal.SIGHUP)
        assert (await own.proxy.stdout.readline()).decode().strip() == "frozen"
        stops = await asyncio.gather(timed_stop(services.command), timed_stop(services.query))
        for service, (status, took) in zip((services.command, services.query), stops, strict=True):
            assert took <= BUDGET + MARGIN, f"{service.name} took {took:.1f} s\n{service.output()[-3000:]}"
            # A clean exit cannot settle with a frozen broker; a stop cut short says so in its log.
            assert status in (0, CUT_SHORT), f"{service.name}: {status}\n{service.output()[-3000:]}"
            if status == CUT_SHORT:
                assert "did not stop within CQRS_DRAIN_SECONDS" in service.output()
