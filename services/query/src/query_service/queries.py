"""Query handlers: one function per query, reading typed views through the ReadStore.

A handler waits for the positions the query asks for, reads, and says NotFound; the table at the
bottom routes each query model to its handler.
"""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from cqrs_contracts import (
    ACCOUNT,
    CUSTOMER,
    TRANSFER,
    AccountView,
    Contract,
    CustomerPage,
    CustomerView,
    GetAccount,
    GetAccountTransactions,
    GetCustomer,
    GetCustomersWithName,
    GetPreferredCustomers,
    GetTransfer,
    ListTransfers,
    StreamPosition,
    StreamType,
    TransactionPage,
    TransferPage,
    TransferView,
)
from query_service.errors import BadCursor, NotFound
from query_service.projection.consistency import Consistency
from query_service.projection.projections import fold_name
from query_service.read_model.cursors import Page
from query_service.read_model.store import ReadStore

T = TypeVar("T")


def _wanted(
    token: tuple[StreamPosition, ...], stream_type: StreamType, stream_id: UUID, min_version: int | None
) -> tuple[StreamPosition, ...]:
    """The positions a query waits for: its token, plus min_version of the stream it reads."""
    if min_version is None:
        return token
    return (*token, StreamPosition(stream_type=stream_type, stream_id=stream_id, version=min_version))


async def get_customer(query: GetCustomer, store: ReadStore, consistency: Consistency) -> CustomerView:
    await consistency.wait_for(_wanted(query.token, CUSTOMER, query.customer_id, query.min_version))
    view = await store.customer(query.customer_id)
    if view is None:
        raise NotFound(f"customer {query.customer_id} not found")
    return view


async def get_account(query: GetAccount, store: ReadStore, consistency: Consistency) -> AccountView:
    await consistency.wait_for(_wanted(query.token, ACCOUNT, query.account_id, query.min_version))
    view = await store.account(query.account_id)
    if view is None:
        raise NotFound(f"account {query.account_id} not found")
    return view


async def account_transactions(
    query: GetAccountTransactions, store: ReadStore, consistency: Consistency
) -> TransactionPage:
    await consistency.wait_for(query.token)
    account = await store.account(query.account_id)
    if account is None:
        raise NotFound(f"account {query.account_id} not found")
    page = await _paged(store.pages.transactions(query.account_id, query.limit, query.after, account.version))
    return TransactionPage(items=page.items, next=page.next)


async def customers_with_name(
    query: GetCustomersWithName, store: ReadStore, consistency: Consistency
) -> CustomerPage:
    page = await _paged(store.customers_with_name(fold_name(query.name), query.limit, query.after))
    return CustomerPage(items=page.items, next=page.next)


async def preferred_customers(
    query: GetPreferredCustomers, store: ReadStore, consistency: Consistency
) -> CustomerPage:
    page = await _paged(store.pages.preferred_customers(query.limit, query.after))
    return CustomerPage(items=page.items, next=page.next)


async def get_transfer(query: GetTransfer, store: ReadStore, consistency: Consistency) -> TransferView:
    await consistency.wait_for(_wanted(query.token, TRANSFER, query.transfer_id, query.min_version))
    view = await store.transfers.transfer(query.transfer_id)
    if view is None:
        raise NotFound(f"transfer {query.transfer_id} not found")
    return view


async def list_transfers(query: ListTransfers, store: ReadStore, consistency: Consistency) -> TransferPage:
    """Newest first; ``stuck``: those still open ``older_than`` seconds after they were requested."""
    if query.stuck:
        before = datetime.now(UTC) - timedelta(seconds=query.older_than)
        page = await _paged(store.transfers.stuck(before, query.limit, query.after))
    else:
        page = await _paged(store.transfers.newest(query.limit, query.after))
    return TransferPage(items=page.items, next=page.next)


async def _paged(read: Awaitable[Page[T]]) -> Page[T]:
    try:
        return await read
    except ValueError as error:
        raise BadCursor(str(error)) from None


async def answer(query: Contract, store: ReadStore, consistency: Consistency) -> Contract:
    """Run the handler of ``query``'s model (the table below)."""
    handler = HANDLERS.get(type(query))
    if handler is None:
        raise TypeError(f"no handler for {type(query).__name__}")
    return await handler(query, store, consistency)


# Each handler takes the query model it is listed with; Any stands for that pairing, which a
# dict's value type cannot spell.
Handler = Callable[[Any, ReadStore, Consistency], Awaitable[Contract]]

HANDLERS: dict[type[Contract], Handler] = {
    GetCustomer: get_customer,
    GetCustomersWithName: customers_with_name,
    GetPreferredCustomers: preferred_customers,
    GetAccount: get_account,
    GetAccountTransactions: account_transactions,
    GetTransfer: get_transfer,
    ListTransfers: list_transfers,
}
