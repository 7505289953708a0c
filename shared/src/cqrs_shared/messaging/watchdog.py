"""Crash-only recovery: a service whose broker connection is not back within a grace period stops.

aio-pika reconnects by itself, but a reconnect can hang (seen when the TCP connection is cut under
load); a supervisor (a container runtime, systemd) restarting the process is the reliable cure.
"""

import asyncio
import logging
import time
from collections.abc import Mapping
from functools import partial
from typing import Any

from aio_pika.abc import AbstractRobustConnection

from cqrs_shared.observability import metrics

log = logging.getLogger(__name__)

CHECK_SECONDS = 1.0


def health(connections: Mapping[str, AbstractRobustConnection]) -> asyncio.Event:
    """Set while every one of ``connections`` works: cleared when one drops, set again once each that
    dropped has its channels restored. Each loss is counted under the connection's name.

    (aio-pika's own ``connected`` is set before the channels are restored, so it cannot tell a
    reconnect that hangs in the restore.)
    """
    healthy = asyncio.Event()
    healthy.set()
    metrics.BROKER_CONNECTED.set(1)
    down: set[str] = set()

    def lost(name: str, *_: Any) -> None:
        down.add(name)
        healthy.clear()
        metrics.BROKER_CONNECTED.set(0)

    def back(name: str, *_: Any) -> None:
        down.discard(name)
        if not down:
            healthy.set()
            metrics.BROKER_CONNECTED.set(1)

    for name, connection in connections.items():
        count_losses(name, connection)
        connection.close_callbacks.add(partial(lost, name))
        connection.reconnect_callbacks.add(partial(back, name))
    return healthy


def count_losses(name: str, connection: AbstractRobustConnection) -> None:
    """Count each loss of ``connection`` in cqrs_broker_connection_losses_total{connection=name}; a
    reconnect attempt that fails is part of the same loss."""
    down = False

    def lost(*_: Any) -> None:
        nonlocal down
        if not down:
            metrics.BROKER_CONNECTION_LOSSES.labels(name).inc()
        down = True

    def back(*_: Any) -> None:
        nonlocal down
        down = False

    connection.close_callbacks.add(lost)
    connection.reconnect_callbacks.add(back)


class BrokerLost(Exception):
    """The broker connection stayed down longer than the grace period."""


async def watch(
    connected: asyncio.Event, stopped: asyncio.Event, grace: float, *, check: float = CHECK_SECONDS
) -> None:
    """Return when ``stopped`` is set; raise BrokerLost after ``grace`` seconds without a connection."""
    down_since: float | None = None
    while not stopped.is_set():
        if connected.is_set():
            down_since = None
        elif down_since is None:
            down_since = time.monotonic()
            log.warning("broker connection lost; waiting up to %.0f s for it to come back", grace)
        elif time.monotonic() - down_since > grace:
            raise BrokerLost(f"the broker connection did not come back within {grace:g} s")
        try:
            await asyncio.wait_for(stopped.wait(), check)
        except TimeoutError:
            continue
