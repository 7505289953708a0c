"""A read model written by layout 1 (before the buckets) is upgraded once at start-up and pages again."""

from datetime import UTC, datetime
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


async def test_layout_3_history_gets_its_typed_ledger_once(read_store: ReadStore) -> None:
    db = read_store.db  # a layout-3 read model: history buckets of lines, no ledger
    account, customer = str(uuid4()), str(uuid4())
    await db[layout.ACCOUNTS].insert_one(
        {layout.ID: account, layout.VERSION: 3, layout.CUSTOMER_ID: customer, layout.CURRENCY: "JPY"}
    )
    at = datetime(2026, 1, 1, tzinfo=UTC)
    lines = {2: ("deposit", "1500", "1500"), 3: ("withdrawal", "200", "1300")}
    await db[layout.TRANSACTIONS].insert_one(
        {
            layout.ID: layout.history_bucket(account, 0),
            layout.ACCOUNT_ID: account,
            layout.ITEMS: {
                f"v{v}": layout.encode_transaction(*line, at, "ref|x") for v, line in lines.items()
            },
            layout.RECORDED: {f"v{v}": 1 for v in lines},
        }
    )
    await db[layout.COUNTERS].insert_one({layout.ID: layout.LAYOUT, layout.COUNTER_VALUE: 3})

    assert await upgrade_layout(db) == 2
    assert await upgrade_layout(db) == 0

    entries = await db[layout.LEDGER].find({layout.ACCOUNT_ID: account}).to_list(None)
    assert sorted(
        (e[layout.LEDGER_VERSION], e[layout.KIND], e[layout.AMOUNT_MINOR], e[layout.BALANCE_AFTER_MINOR])
        for e in entries
    ) == [
        (2, "deposit", 1500, 1500),
        (3, "withdrawal", 200, 1300),
    ]
    assert {
        (e[layout.CUSTOMER_ID], e[layout.CURRENCY], e[layout.AT], e[layout.REFERENCE]) for e in entries
    } == {(customer, "JPY", at, "ref|x")}
