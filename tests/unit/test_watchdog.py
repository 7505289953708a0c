"""The broker watchdog: patient through short outages, gives up after the grace period."""

import asyncio

import pytest
from aio_pika.tools import CallbackCollection
from prometheus_client import REGISTRY

from cqrs_shared.messaging.watchdog import BrokerLost, health, watch


async def test_it_returns_when_the_service_stops() -> None:
    up, stopped = asyncio.Event(), asyncio.Event()
    up.set()
    asyncio.get_running_loop().call_later(0.05, stopped.set)
    await asyncio.wait_for(watch(up, stopped, grace=1, check=0.01), 2)


async def test_a_connection_down_longer_than_the_grace_period_stops_the_service() -> None:
    up, stopped = asyncio.Event(), asyncio.Event()
    with pytest.raises(BrokerLost, match=r"within 0\.1 s"):
        await asyncio.wait_for(watch(up, stopped, grace=0.1, check=0.01), 2)


async def test_a_connection_back_within_the_grace_period_is_forgiven() -> None:
    up, stopped = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.call_later(0.05, up.set)
    loop.call_later(0.3, stopped.set)
    await asyncio.wait_for(watch(up, stopped, grace=0.2, check=0.01), 2)


class Connection:
    """What health() uses of a robust connection: its two callback collections."""

    def __init__(self) -> None:
        self.close_callbacks: CallbackCollection[Connection, [BaseException | None]] = CallbackCollection(
            self
        )
        self.reconnect_callbacks: CallbackCollection[Connection, []] = CallbackCollection(self)

    async def drop(self) -> None:
        await self.close_callbacks(ConnectionError("lost"))

    async def restore(self) -> None:
        await self.reconnect_callbacks()


def losses(name: str) -> float:
    return REGISTRY.get_sample_value("cqrs_broker_connection_losses_total", {"connection": name}) or 0.0


async def test_health_is_set_only_while_every_connection_works_and_counts_each_loss() -> None:
    consume, replies = Connection(), Connection()
    up = health({"consume": consume, "replies": replies})  # type: ignore[dict-item]
    before = losses("consume"), losses("replies")
    assert up.is_set()
    await replies.drop()
    await consume.drop()
    await replies.drop()  # a failed reconnect attempt closes it again: still the same loss
    assert not up.is_set()
    await replies.restore()
    assert not up.is_set()  # the consuming connection is still away
    await consume.restore()
    assert up.is_set()
    assert (losses("consume"), losses("replies")) == (before[0] + 1, before[1] + 1)
