"""Transfers in the read store against a real MongoDB-compatible server: version-gated (duplicates
and out-of-order events change nothing), listed newest first a bucket at a time, stuck ones found."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

from cqrs_contracts import (
    EventEnvelope,
    TransferCompleted,
    TransferDebited,
    TransferFailed,
    TransferRequested,
)
from query_service.projection.projections import project
from query_service.read_model import layout
from query_service.read_model.store import Applied, Gap, ReadStore
from tests.builders import envelope

NOW = datetime.now(UTC)


def requested(transfer_id: UUID, at: datetime) -> EventEnvelope:
    event = TransferRequested(
        transfer_id=transfer_id,
        from_account_id=uuid4(),
        to_account_id=uuid4(),
        from_customer_id=uuid4(),
        to_customer_id=uuid4(),
        currency="EUR",
        amount=Decimal("3.00"),
        reference="",
    )
    return envelope(event, 1, at=at)


async def apply(store: ReadStore, item: EventEnvelope) -> Applied | Gap:
    [change] = project(item)
    return await store.apply(change)


async def test_a_duplicate_or_early_event_changes_nothing(read_store: ReadStore) -> None:
    transfer_id = uuid4()
    completed = envelope(TransferCompleted(transfer_id=transfer_id, deposit=uuid4()), 3, at=NOW)
    assert await apply(read_store, completed) == Gap(0)  # before it was even requested
    assert await apply(read_store, requested(transfer_id, NOW)) == Applied.APPLIED
    debited = envelope(TransferDebited(transfer_id=transfer_id, withdrawal=uuid4()), 2, at=NOW)
    assert await apply(read_store, debited) == Applied.APPLIED
    assert await apply(read_store, debited) == Applied.DUPLICATE
    assert await apply(read_store, requested(transfer_id, NOW)) == Applied.DUPLICATE
    view = await read_store.transfers.transfer(transfer_id)
    assert view is not None
    assert (view.status, view.version, [step.step for step in view.steps]) == (
        "debited",
        2,
        ["requested", "debited"],
    )
    assert await read_store.position("transfer", transfer_id) == 2
    assert await read_store.transfers.transfer(uuid4()) is None


async def test_transfers_list_newest_first_page_by_page(read_store: ReadStore) -> None:
    ids = [uuid4() for _ in range(2 * layout.BUCKET_SIZE + 7)]
    for n, transfer_id in enumerate(ids):
        await apply(read_store, requested(transfer_id, NOW + timedelta(milliseconds=n)))
    seen: list[UUID] = []
    after: str | None = None
    for _ in range(10):
        page = await read_store.transfers.newest(40, after)
        assert len(page.items) <= 40
        seen += [view.id for view in page.items]
        after = page.next
        if after is None:
            break
    assert seen == ids[::-1]


async def test_stuck_transfers_are_the_open_ones_older_than_the_cut_off(read_store: ReadStore) -> None:
    old = [uuid4() for _ in range(5)]
    for n, transfer_id in enumerate(old):
        await apply(read_store, requested(transfer_id, NOW - timedelta(minutes=10, seconds=-n)))
    await apply(read_store, envelope(TransferDebited(transfer_id=old[1], withdrawal=uuid4()), 2, at=NOW))
    await apply(read_store, envelope(TransferCompleted(transfer_id=old[2], deposit=uuid4()), 2, at=NOW))
    failed = TransferFailed(transfer_id=old[3], reason="account closed", refunded=False)
    await apply(read_store, envelope(failed, 2, at=NOW))
    fresh = uuid4()
    await apply(read_store, requested(fresh, NOW))
    cut_off = NOW - timedelta(minutes=1)

    first = await read_store.transfers.stuck(cut_off, 2, None)
    assert [view.id for view in first.items] == [old[4], old[1]]  # newest first; ended and fresh left out
    assert first.next is not None
    rest = await read_store.transfers.stuck(cut_off, 2, first.next)
    assert ([view.id for view in rest.items], rest.next) == ([old[0]], None)
    assert (await read_store.transfers.stuck(NOW - timedelta(hours=1), 50, None)).items == []
