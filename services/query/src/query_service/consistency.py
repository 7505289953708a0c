"""Wait, bounded, until the view has every stream position a query asks for."""

import asyncio
import time

from cqrs_shared.contracts import StreamPosition
from query_service.errors import ViewBehind
from query_service.store import ReadStore

POLL_SECONDS = 0.02


async def wait_for(positions: tuple[StreamPosition, ...], store: ReadStore, max_wait: float) -> None:
    """Return once the view has each stream at least at its version; else raise ViewBehind."""
    deadline = time.monotonic() + max_wait
    while True:
        behind = []
        for wanted in positions:
            have = await store.position(wanted.stream_type, wanted.stream_id)
            if have < wanted.version:
                behind.append(
                    f"{wanted.stream_type} {wanted.stream_id} is at {have}, not yet {wanted.version}"
                )
        if not behind:
            return
        if time.monotonic() >= deadline:
            raise ViewBehind(f"the view is behind after waiting {max_wait:g} s: {'; '.join(behind)}")
        await asyncio.sleep(POLL_SECONDS)
