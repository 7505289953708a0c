"""The read store against a real MongoDB-compatible server: gating, gaps, lookups, pages."""

from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from cqrs_contracts import (
    AccountOpened,
    CustomerCreated,
    CustomerDetailsEdited,
    CustomerMadePreferred,
    EventEnvelope,
    MoneyDeposited,
)
from query_service.errors import RepairFailed
from query_service.projection import projector
from query_service.projection.projections import project
from query_service.read_model import layout
from query_service.read_model.changes import DocumentChange
from query_service.read_model.cursors import encode_cursor
from query_service.read_model.store import Applied, Gap, ReadStore
from tests.builders import stream


def one(item: EventEnvelope) -> DocumentChange:
    [change] = project(item)
    return change


def history(stream_id: UUID, name: str = "Ada") -> list[EventEnvelope]:
    return stream(
        CustomerCreated(customer_id=stream_id, name=name, locale="en"),
        CustomerMadePreferred(customer_id=stream_id),
        CustomerDetailsEdited(customer_id=stream_id, name=f"{name} K", locale="fr"),
    )


async def test_each_event_applies_once_and_duplicates_are_no_ops(read_store: ReadStore) -> None:
    stream_id = uuid4()
    events = history(stream_id)
    assert [await read_store.apply(one(e)) for e in events] == [Applied.APPLIED] * 3
    assert [await read_store.apply(one(e)) for e in events] == [Applied.DUPLICATE] * 3
    view = await read_store.customer(stream_id)
    assert view is not None
    assert (view.version, view.name, view.locale, view.is_preferred) == (3, "Ada K", "fr", True)


async def test_an_event_ahead_of_the_view_is_a_gap_and_changes_nothing(read_store: ReadStore) -> None:
    stream_id = uuid4()
    first, _, third = history(stream_id)
    assert await read_store.apply(one(third)) == Gap(current=0)
    assert await read_store.apply(one(first)) == Applied.APPLIED
    assert await read_store.apply(one(third)) == Gap(current=1)
    view = await read_store.customer(stream_id)
    assert view is not None
    assert (view.version, view.name) == (1, "Ada")


async def test_projector_repairs_a_gap_from_the_stream(read_store: ReadStore) -> None:
    stream_id = uuid4()
    events = history(stream_id)
    asked: list[int] = []

    async def read_stream(asked_id: UUID, after: int) -> list[EventEnvelope]:
        assert asked_id == stream_id
        asked.append(after)
        return [e for e in events if e.version > after]

    await projector.apply(events[0], read_store, read_stream)
    assert await projector.apply(events[2], read_store, read_stream) == Applied.APPLIED
    assert asked == [1]
    assert await projector.apply(events[1], read_store, read_stream) == Applied.DUPLICATE
    view = await read_store.customer(stream_id)
    assert view is not None
    assert view.version == 3


async def test_a_gap_longer_than_a_page_is_filled_page_by_page(read_store: ReadStore) -> None:
    stream_id = uuid4()
    events = stream(
        CustomerCreated(customer_id=stream_id, name="Paged", locale="en"),
        *[CustomerDetailsEdited(customer_id=stream_id, name=f"Paged {n}", locale="en") for n in range(1, 12)],
    )
    asked: list[int] = []

    async def pages_of_three(asked_id: UUID, after: int) -> list[EventEnvelope]:
        asked.append(after)
        return [e for e in events if e.version > after][:3]

    await projector.apply(events[0], read_store, pages_of_three)
    assert await projector.apply(events[-1], read_store, pages_of_three) == Applied.APPLIED
    assert asked == [1, 4, 7, 10]
    view = await read_store.customer(stream_id)
    assert view is not None
    assert (view.version, view.name) == (12, "Paged 11")


async def test_projector_fails_a_repair_the_stream_cannot_fill_yet(read_store: ReadStore) -> None:
    stream_id = uuid4()
    events = history(stream_id)

    async def empty_stream(asked_id: UUID, after: int) -> list[EventEnvelope]:
        return []

    with pytest.raises(RepairFailed):
        await projector.apply(events[1], read_store, empty_stream)


async def test_name_lookup_ignores_case(read_store: ReadStore) -> None:
    ids = [uuid4(), uuid4(), uuid4()]
    for stream_id, name in zip(ids, ["Grace Hopper", "GRACE HOPPER", "Grace Kelly"], strict=True):
        await read_store.apply(one(history(stream_id, name)[0]))
    page = await read_store.customers_with_name("grace hopper", 10, None)
    assert sorted(str(view.id) for view in page.items) == sorted(str(i) for i in ids[:2])
    assert page.next is None


async def test_pages_are_stable_and_complete(read_store: ReadStore) -> None:
    ids = sorted(str(uuid4()) for _ in range(7))
    for stream_id in ids:
        for event in history(UUID(stream_id))[:2]:
            await read_store.apply(one(event))
    seen: list[str] = []
    after = None
    while True:
        page = await read_store.pages.preferred_customers(3, after)
        seen += [str(view.id) for view in page.items]
        if page.next is None:
            break
        after = page.next
    assert seen == ids


async def test_a_cursor_not_issued_by_the_service_is_an_error(read_store: ReadStore) -> None:
    with pytest.raises(ValueError, match="cursor"):
        await read_store.pages.preferred_customers(3, "%%%not base64")


@pytest.mark.parametrize("position", ["-1000000", "999999999999", "0"])
async def test_a_preferred_cursor_outside_the_numbers_issued_is_refused_before_any_bucket_is_read(
    read_store: ReadStore, position: str
) -> None:
    # Forged far below zero, such a cursor made one query read bucket after bucket for 81 s.
    with pytest.raises(ValueError, match="not a cursor this service issued"):
        await read_store.pages.preferred_customers(3, encode_cursor(position))


async def test_a_preferred_page_over_sparse_buckets_stops_early_with_a_cursor_and_the_next_goes_on(
    read_store: ReadStore,
) -> None:
    # 300 numbers spent with no customer in them (duplicates, as FerretDB's numbering leaves): a page
    # reads a bounded number of buckets, then hands a cursor on, rather than reading them all.
    counters = read_store.db[layout.named(layout.COUNTERS, read_store.generation)]
    await counters.insert_one({layout.ID: layout.PREFERRED_COUNTER, layout.COUNTER_VALUE: 300})
    customer = uuid4()
    for event in history(customer)[:2]:
        await read_store.apply(one(event))
    first = await read_store.pages.preferred_customers(3, None)
    assert first.items == []
    assert first.next is not None
    after: str | None = first.next
    seen, pages = list(first.items), 1
    while after is not None:
        page = await read_store.pages.preferred_customers(3, after)
        seen += page.items
        after, pages = page.next, pages + 1
    assert [view.id for view in seen] == [customer]
    assert pages == 3  # buckets 0-6, at most 3 a page (a limit of 3): 0-2, 3-5, then 6


@pytest.mark.parametrize("position", ["999999999999", "0", "-5", "3"])
async def test_a_history_cursor_beyond_the_accounts_version_is_refused(
    read_store: ReadStore, position: str
) -> None:
    customer_id, account_id = uuid4(), uuid4()
    for event in stream(AccountOpened(account_id=account_id, customer_id=customer_id, currency="EUR")):
        for change in project(event):
            await read_store.apply(change)
    with pytest.raises(ValueError, match="not a cursor this service issued"):
        await read_store.pages.transactions(account_id, 50, encode_cursor(position))


async def test_history_pages_cross_buckets_newest_first_and_complete(read_store: ReadStore) -> None:
    customer_id, account_id = uuid4(), uuid4()
    events = stream(
        AccountOpened(account_id=account_id, customer_id=customer_id, currency="EUR"),
        *[
            MoneyDeposited(
                reference="",
                account_id=account_id,
                customer_id=customer_id,
                currency="EUR",
                amount=Decimal("1.00"),
                balance=Decimal(n),
            )
            for n in range(1, 131)
        ],
    )
    for event in events:
        for change in project(event):
            await read_store.apply(change)
    seen: list[int] = []
    after = None
    while True:
        page = await read_store.pages.transactions(account_id, 50, after)
        seen += [item.version for item in page.items]
        if page.next is None:
            break
        after = page.next
    assert seen == list(range(131, 1, -1))


async def test_preferred_pages_cross_buckets_in_the_order_customers_became_preferred(
    read_store: ReadStore,
) -> None:
    ids = [uuid4() for _ in range(120)]
    for stream_id in ids:
        for event in history(stream_id)[:2]:
            await read_store.apply(one(event))
    duplicate = history(ids[5])[1]
    assert await read_store.apply(one(duplicate)) == Applied.DUPLICATE  # spends a number, lists nothing twice
    seen: list[UUID] = []
    sizes: list[int] = []
    after = None
    while True:
        page = await read_store.pages.preferred_customers(50, after)
        sizes.append(len(page.items))
        seen += [view.id for view in page.items]
        if page.next is None:
            break
        after = page.next
    assert seen == ids
    # The duplicate spent number 120: the page after the 20 last ones is empty and has no cursor.
    assert sizes == [50, 50, 20, 0]
