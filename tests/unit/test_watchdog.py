"""The broker watchdog: patient through short outages, gives up after the grace period."""

import asyncio

import pytest

from cqrs_shared.messaging.watchdog import BrokerLost, watch


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
