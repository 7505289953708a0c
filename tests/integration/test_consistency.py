"""Read-your-writes: a query waits (bounded) for the positions it asks for, woken by the projector."""

import asyncio
import time
from uuid import uuid4

import pytest

from cqrs_shared.contracts import ACCOUNT, CUSTOMER, CustomerCreated, CustomerMadePreferred, StreamPosition
from query_service.consistency import POLL_SECONDS, Consistency
from query_service.errors import ViewBehind
from query_service.model import ReadModel
from query_service.projections import project
from query_service.store import ReadStore
from tests.builders import stream

pytestmark = pytest.mark.integration


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
