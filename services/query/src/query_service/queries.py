"""Query handlers: one function per query, reading documents through the ReadStore."""

from collections.abc import Awaitable
from decimal import Decimal
from uuid import UUID

from cqrs_shared.contracts import (
    AccountSummary,
    AccountView,
    Contract,
    CustomerPage,
    CustomerView,
    GetAccount,
    GetAccountTransactions,
    GetCustomer,
    GetCustomersWithName,
    GetPreferredCustomers,
    StreamPosition,
    StreamType,
    TransactionPage,
    TransactionView,
)
from query_service.consistency import Consistency
from query_service.errors import BadCursor, NotFound
from query_service.projections import fold_name
from query_service.store import Document, Page, ReadStore


def customer_view(doc: Document) -> CustomerView:
    accounts = sorted(
        (
            AccountSummary(
                id=UUID(account_id), currency=a["currency"], balance=a["balance"], version=a["version"]
            )
            for account_id, a in doc.get("accounts", {}).items()
            if "version" in a
        ),
        key=lambda account: str(account.id),
    )
    totals: dict[str, Decimal] = {}
    for account in accounts:
        totals[account.currency] = totals.get(account.currency, Decimal(0)) + account.balance
    return CustomerView(
        id=doc["_id"],
        name=doc["name"],
        locale=doc["locale"],
        is_preferred=doc["is_preferred"],
        version=doc["version"],
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        accounts=accounts,
        totals=totals,
    )


def account_view(doc: Document) -> AccountView:
    return AccountView(
        id=doc["_id"],
        customer_id=doc["customer_id"],
        currency=doc["currency"],
        balance=doc["balance"],
        version=doc["version"],
        opened_at=doc["opened_at"],
        updated_at=doc["updated_at"],
    )


def transaction_view(doc: Document) -> TransactionView:
    return TransactionView(
        version=doc["account_version"],
        kind=doc["kind"],
        amount=doc["amount"],
        balance_after=doc["balance_after"],
        at=doc["at"],
    )


def _wanted(
    token: tuple[StreamPosition, ...], stream_type: StreamType, stream_id: UUID, min_version: int | None
) -> tuple[StreamPosition, ...]:
    """The positions a query waits for: its token, plus min_version of the stream it reads."""
    if min_version is None:
        return token
    return (*token, StreamPosition(stream_type=stream_type, stream_id=stream_id, version=min_version))


async def get_customer(query: GetCustomer, store: ReadStore, consistency: Consistency) -> CustomerView:
    await consistency.wait_for(_wanted(query.token, "customer", query.customer_id, query.min_version))
    doc = await store.customer(str(query.customer_id))
    if doc is None:
        raise NotFound(f"customer {query.customer_id} not found")
    return customer_view(doc)


async def get_account(query: GetAccount, store: ReadStore, consistency: Consistency) -> AccountView:
    await consistency.wait_for(_wanted(query.token, "account", query.account_id, query.min_version))
    doc = await store.account(str(query.account_id))
    if doc is None:
        raise NotFound(f"account {query.account_id} not found")
    return account_view(doc)


async def account_transactions(
    query: GetAccountTransactions, store: ReadStore, consistency: Consistency
) -> TransactionPage:
    await consistency.wait_for(query.token)
    if await store.account(str(query.account_id)) is None:
        raise NotFound(f"account {query.account_id} not found")
    page = await _paged(store.transactions(str(query.account_id), query.limit, query.after))
    return TransactionPage(items=[transaction_view(doc) for doc in page.items], next=page.next)


async def customers_with_name(query: GetCustomersWithName, store: ReadStore) -> CustomerPage:
    return _customers(
        await _paged(store.customers_with_name(fold_name(query.name), query.limit, query.after))
    )


async def preferred_customers(query: GetPreferredCustomers, store: ReadStore) -> CustomerPage:
    return _customers(await _paged(store.preferred_customers(query.limit, query.after)))


async def _paged(read: Awaitable[Page]) -> Page:
    try:
        return await read
    except ValueError as error:
        raise BadCursor(str(error)) from None


def _customers(page: Page) -> CustomerPage:
    return CustomerPage(items=[customer_view(doc) for doc in page.items], next=page.next)


async def answer(query: Contract, store: ReadStore, consistency: Consistency) -> Contract:
    """The routing table of queries."""
    if isinstance(query, GetCustomer):
        return await get_customer(query, store, consistency)
    if isinstance(query, GetCustomersWithName):
        return await customers_with_name(query, store)
    if isinstance(query, GetPreferredCustomers):
        return await preferred_customers(query, store)
    if isinstance(query, GetAccount):
        return await get_account(query, store, consistency)
    if isinstance(query, GetAccountTransactions):
        return await account_transactions(query, store, consistency)
    raise TypeError(f"no handler for {type(query).__name__}")
