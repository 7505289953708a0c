"""The stop budget: once a service is asked to stop, it is gone within CQRS_DRAIN_SECONDS, whatever hangs.

Each wait of a drain is bounded on its own (a consumer's in-flight messages, a channel's close), but
bounds add up, and a wait on a channel that died with its broker node can outlive them all (seen in
CI: the query service still draining 40 s after SIGTERM, after the cluster test's node loss). So the
whole stop has one budget too; past it the process exits at once, and what it held unacknowledged
the broker hands to another consumer, which applies it idempotently.
"""

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import NoReturn

log = logging.getLogger(__name__)

# The exit status of a stop cut short: not 0, so that a supervisor sees that work was left.
CUT_SHORT = 3


def _hard_exit(status: int) -> NoReturn:
    """Leave now: no more awaits (one of them is what hangs), only the logs flushed."""
    logging.shutdown()
    sys.stderr.flush()
    os._exit(status)


async def within_budget(
    work: Awaitable[None],
    stopped: asyncio.Event,
    budget: float,
    *,
    leave: Callable[[int], NoReturn] = _hard_exit,
) -> None:
    """Run ``work`` (a service's serve) to its end; once ``stopped`` is set, for ``budget`` seconds more
    at most, then ``leave`` with CUT_SHORT, naming the tasks still running."""
    task = asyncio.ensure_future(work)
    asked = asyncio.ensure_future(stopped.wait())
    try:
        await asyncio.wait([task, asked], return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            await asyncio.wait([task], timeout=budget)
    finally:
        asked.cancel()
    if not task.done():
        hanging = sorted(
            t.get_name() for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()
        )
        log.error(
            "did not stop within CQRS_DRAIN_SECONDS (%g s); exiting with work unsettled, which the broker "
            "redelivers. Still waiting: %s",
            budget,
            ", ".join(hanging[:20]),
        )
        leave(CUT_SHORT)
    task.result()
