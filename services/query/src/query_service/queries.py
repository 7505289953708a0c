"""Query handlers: one function per query, reading documents through the ReadStore."""

import asyncio
import time
from typing import Any

from cqrs_shared.contracts import (
    Contract,
    CustomerPage,
    CustomerView,
    GetCustomer,
    GetCustomersWithName,
    GetPreferredCustomers,
)
from query_service.errors import BadCursor, NotFound, ViewBehind
from query_service.projections import fold_name
from query_service.store import Document, Page, ReadStore

POLL_SECONDS = 0.02


def customer_view(doc: Document) -> CustomerView:
    return CustomerView(
        id=doc["_id"],
        name=doc["name"],
        locale=doc["locale"],
        is_preferred=doc["is_preferred"],
        version=doc["version"],
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
    )


async def get_customer(query: GetCustomer, store: ReadStore, max_wait: float) -> CustomerView:
    """One customer; with min_version, poll (bounded) until the projection has caught up."""
    wanted = query.min_version or 0
    deadline = time.monotonic() + max_wait
    while True:
        doc = await store.customer(str(query.customer_id))
        if doc is not None and doc["version"] >= wanted:
            return customer_view(doc)
        if not wanted:
            raise NotFound(f"customer {query.customer_id} not found")
        if time.monotonic() >= deadline:
            have = doc["version"] if doc else 0
            raise ViewBehind(
                f"customer {query.customer_id} is at version {have} in the view, "
                f"not yet {wanted}, after waiting {max_wait:g} s"
            )
        await asyncio.sleep(POLL_SECONDS)


async def customers_with_name(query: GetCustomersWithName, store: ReadStore) -> CustomerPage:
    return _page(await _paged(store.customers_with_name(fold_name(query.name), query.limit, query.after)))


async def preferred_customers(query: GetPreferredCustomers, store: ReadStore) -> CustomerPage:
    return _page(await _paged(store.preferred_customers(query.limit, query.after)))


async def _paged(read: Any) -> Page:
    try:
        page: Page = await read
    except ValueError as error:
        raise BadCursor(str(error)) from None
    return page


def _page(page: Page) -> CustomerPage:
    return CustomerPage(items=[customer_view(doc) for doc in page.items], next=page.next)


async def answer(query: Contract, store: ReadStore, max_wait: float) -> Contract:
    """The routing table of queries."""
    if isinstance(query, GetCustomer):
        return await get_customer(query, store, max_wait)
    if isinstance(query, GetCustomersWithName):
        return await customers_with_name(query, store)
    if isinstance(query, GetPreferredCustomers):
        return await preferred_customers(query, store)
    raise TypeError(f"no handler for {type(query).__name__}")
