"""Wait for the first of several asyncio events, bounded: the wake-up shared by relay and queries."""

import asyncio


async def first_of(events: list[asyncio.Event], timeout: float) -> None:
    """Return when any of ``events`` is set, or after ``timeout`` seconds, whichever comes first."""
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waits:
            waiter.cancel()
