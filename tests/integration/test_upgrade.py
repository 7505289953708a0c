"""A read model written by layout 1 (before the buckets) is upgraded once at start-up and pages again."""

from uuid import uuid4

from query_service.read_model import layout
from query_service.read_model.store import ReadStore
from query_service.read_model.upgrade import upgrade_layout


async def test_layout_1_documents_get_their_buckets_once(read_store: ReadStore) -> None:
    db = read_store.db  # the test writes what an older query service wrote
    account, customers = str(uuid4()), sorted(str(uuid4()) for _ in range(3))
    await db[layout.ACCOUNTS].insert_one({layout.ID: account, layout.VERSION: 61, layout.CUSTOMER_ID: "c"})
    await db[layout.TRANSACTIONS].insert_many(
        [
            {
                layout.ID: f"{account}:{version}",
                layout.ACCOUNT_ID: account,
                layout.ACCOUNT_VERSION: version,
                layout.KIND: "deposit",
                layout.AMOUNT: "1.00",
                layout.BALANCE_AFTER: str(version - 1),
                layout.AT: "2026-01-01T00:00:00+00:00",
                layout.RECORDED: 1,
            }
            for version in range(2, 62)
        ]
    )
    await db[layout.CUSTOMERS].insert_many(
        [
            {
                layout.ID: customer_id,
                layout.VERSION: 2,
                layout.NAME: "Old",
                layout.NAME_FOLDED: "old",
                layout.LOCALE: "en",
                layout.IS_PREFERRED: True,
                layout.CREATED_AT: "2026-01-01T00:00:00+00:00",
                layout.UPDATED_AT: "2026-01-01T00:00:00+00:00",
            }
            for customer_id in customers
        ]
    )

    assert await upgrade_layout(db) == 60 + 3
    assert await upgrade_layout(db) == 0  # recorded: done once

    history = await read_store.pages.transactions(account, 50, None)  # type: ignore[arg-type]
    assert [item.version for item in history.items] == list(range(61, 11, -1))
    assert history.next is not None
    rest = await read_store.pages.transactions(account, 50, history.next)  # type: ignore[arg-type]
    assert [item.version for item in rest.items] == list(range(11, 1, -1))
    preferred = await read_store.pages.preferred_customers(10, None)
    assert [str(view.id) for view in preferred.items] == customers
