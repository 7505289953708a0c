"""Read-your-writes: a query waits (bounded) for the positions it asks for, woken by the projector."""

import asyncio
import time
from uuid import uuid4

import pytest

from cqrs_contracts import ACCOUNT, CUSTOMER, CustomerCreated, CustomerMadePreferred, StreamPosition
from query_service.errors import ForgedToken, ViewBehind
from query_service.projection.consistency import MAX_AHEAD, MAX_WAITING, POLL_SECONDS, Consistency
from query_service.projection.projections import project
from query_service.read_model.model import ReadModel
from query_service.read_model.store import ReadStore
from tests.builders import stream


async def test_a_waiting_query_wakes_when_the_projector_moves_the_stream(read_store: ReadStore) -> None:
    consistency = Consistency(ReadModel(read_store.db, read_store), max_wait=5)
    customer = uuid4()
    created, preferred = stream(
        CustomerCreated(customer_id=customer, name="A", locale="en"),
        CustomerMadePreferred(customer_id=customer),
    )
    for change in project(created):
        await read_store.apply(change)
    wanted = (StreamPosition(stream_type=CUSTOMER, stream_id=customer, version=2),)

    async def project_later() -> None:
        await asyncio.sleep(0.05)
        for change in project(preferred):
            await read_store.apply(change)
        consistency.moved(customer)

    began = time.monotonic()
    await asyncio.gather(consistency.wait_for(wanted), project_later())
    assert time.monotonic() - began < POLL_SECONDS


async def test_a_view_that_stays_behind_says_which_stream_and_where(read_store: ReadStore) -> None:
    consistency = Consistency(ReadModel(read_store.db, read_store), max_wait=0.3)
    account = uuid4()
    with pytest.raises(ViewBehind, match=f"account {account} is at 0, not yet 7"):
        await consistency.wait_for((StreamPosition(stream_type=ACCOUNT, stream_id=account, version=7),))


async def test_no_more_than_a_bounded_number_of_queries_wait_and_the_next_is_answered_at_once(
    read_store: ReadStore,
) -> None:
    # A flood of tokens no projection reaches held every query slot for CQRS_MAX_WAIT each (issue 20).
    consistency = Consistency(ReadModel(read_store.db, read_store), max_wait=2)

    def unknown() -> tuple[StreamPosition, ...]:
        return tuple(StreamPosition(stream_type=ACCOUNT, stream_id=uuid4(), version=3) for _ in range(32))

    waiting = [asyncio.create_task(consistency.wait_for(unknown())) for _ in range(MAX_WAITING)]
    await asyncio.sleep(0.3)  # each has read once and waits
    began = time.monotonic()
    with pytest.raises(ViewBehind, match=f"{MAX_WAITING} queries already wait"):
        await consistency.wait_for(unknown())
    assert time.monotonic() - began < 1.0
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(result, ViewBehind) for result in results)


async def test_a_token_far_ahead_of_the_view_is_refused_without_waiting(read_store: ReadStore) -> None:
    consistency = Consistency(ReadModel(read_store.db, read_store), max_wait=5)
    forged = StreamPosition(stream_type=ACCOUNT, stream_id=uuid4(), version=MAX_AHEAD + 1)
    began = time.monotonic()
    with pytest.raises(ForgedToken, match="not a token this pair issued"):
        await consistency.wait_for((forged,))
    assert time.monotonic() - began < 1.0
