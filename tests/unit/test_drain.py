"""The stop budget: a serve that hangs after the stop is left at the budget; one that finishes is not."""

import asyncio
from typing import NoReturn

import pytest

from cqrs_shared.runtime.drain import CUT_SHORT, within_budget


class Left(Exception):
    pass


def leave(status: int) -> NoReturn:
    raise Left(status)


async def test_a_serve_that_hangs_after_the_stop_is_left_once_the_budget_is_spent() -> None:
    stopped = asyncio.Event()

    async def hangs() -> None:
        await stopped.wait()
        await asyncio.Event().wait()  # a wait on a channel that never comes back

    stopped.set()
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(Left) as left:
        await within_budget(hangs(), stopped, 0.2, leave=leave)
    assert left.value.args == (CUT_SHORT,)
    assert 0.2 <= loop.time() - started < 1.0


async def test_a_serve_that_finishes_its_drain_in_time_returns_and_its_error_is_raised() -> None:
    stopped = asyncio.Event()

    async def drains() -> None:
        await stopped.wait()
        await asyncio.sleep(0.05)
        raise RuntimeError("the broker stayed away")

    asyncio.get_running_loop().call_later(0.05, stopped.set)
    with pytest.raises(RuntimeError, match="stayed away"):
        await within_budget(drains(), stopped, 5, leave=leave)


async def test_the_budget_counts_from_the_stop_not_from_the_start() -> None:
    stopped = asyncio.Event()

    async def serves() -> None:
        await stopped.wait()

    asyncio.get_running_loop().call_later(0.3, stopped.set)
    await within_budget(serves(), stopped, 0.1, leave=leave)  # ran 0.3 s, stopped at once: no Left
