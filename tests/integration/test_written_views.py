"""The views the projector keeps of what it wrote (read_model/store.py, cache.py) against FerretDB:
each is the view a read of the database returns, concurrent inserts go together (inserts.py), and
an account's opening writes its customer's document without a failed insert."""

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

from pymongo import AsyncMongoClient, monitoring
from pymongo.errors import DuplicateKeyError

from cqrs_contracts import (
    AccountOpened,
    CustomerCreated,
    CustomerDetailsEdited,
    CustomerLocaleChanged,
    CustomerMadePreferred,
    Event,
    EventEnvelope,
    MoneyDeposited,
    MoneyWithdrawn,
)
from query_service.projection.projections import project
from query_service.read_model import layout
from query_service.read_model.cache import ViewCache
from query_service.read_model.inserts import Inserts
from query_service.read_model.layout import Document
from query_service.read_model.store import Applied, Kept, ReadStore
from tests.builders import envelope

# Microseconds that BSON drops, in another zone than UTC: the kept view must still equal the read one.
AT = datetime(2026, 12, 7, 1, 2, 3, 456789, tzinfo=UTC)


def projecting(store: ReadStore) -> ViewCache[Kept]:
    store.cache = ViewCache(100)
    store.cache.enable()
    return store.cache


async def apply_all(store: ReadStore, envelopes: list[EventEnvelope]) -> None:
    for item in envelopes:
        for change in project(item):
            assert await store.apply(change) is Applied.APPLIED


async def kept_and_read(store: ReadStore, collection: str, doc_id: str) -> tuple[str, str]:
    """The view kept after the writes, and the one a read of the database gives (JSON both)."""
    cached = store.cache.get((collection, doc_id))
    assert cached is not None, "the write kept no view"
    view = cached.view
    assert view is not None, "the kept document makes no view"
    store.cache.clear()
    read = await (store.customer if collection == layout.CUSTOMERS else store.account)(view.id)
    assert read is not None
    return view.model_dump_json(), read.model_dump_json()


async def test_every_written_customer_view_is_what_a_read_returns(read_store: ReadStore) -> None:
    projecting(read_store)
    customer, account = uuid4(), uuid4()
    await apply_all(
        read_store,
        [
            envelope(CustomerCreated(customer_id=customer, name="Ada", locale="en"), 1, at=AT),
            envelope(AccountOpened(account_id=account, customer_id=customer, currency="EUR"), 1, at=AT),
        ],
    )
    kept, read = await kept_and_read(read_store, layout.ACCOUNTS, str(account))
    assert kept == read
    # From here each write sets fields on the document kept before it (read now, as after a restart).
    await read_store.customer(customer)
    await read_store.account(account)
    later = [
        envelope(CustomerMadePreferred(customer_id=customer), 2, at=AT),
        envelope(CustomerLocaleChanged(customer_id=customer, locale="fr"), 3, at=AT),
        envelope(CustomerDetailsEdited(customer_id=customer, name="Ada K", locale="de"), 4, at=AT),
    ]
    money: list[Event] = [
        MoneyDeposited(
            account_id=account,
            customer_id=customer,
            amount=Decimal("10.50"),
            balance=Decimal("10.50"),
            currency="EUR",
            reference="r",
        ),
        MoneyWithdrawn(
            account_id=account,
            customer_id=customer,
            amount=Decimal("0.25"),
            balance=Decimal("10.25"),
            currency="EUR",
            reference="r",
        ),
    ]
    await apply_all(read_store, later + [envelope(m, n, at=AT) for n, m in enumerate(money, start=2)])
    for collection, doc_id in ((layout.CUSTOMERS, str(customer)), (layout.ACCOUNTS, str(account))):
        await read_store.customer(customer)  # the other document, read back into the cache
        await read_store.account(account)
        with_deposit = read_store.cache.get((collection, doc_id))
        assert with_deposit is not None
        kept, read = await kept_and_read(read_store, collection, doc_id)
        assert kept == read
    view = await read_store.customer(customer)
    assert view is not None
    assert (view.version, view.name, view.is_preferred, view.totals) == (
        4,
        "Ada K",
        True,
        {"EUR": Decimal("10.25")},
    )


async def test_a_customer_document_an_account_made_first_is_kept_once_its_customer_is_in(
    read_store: ReadStore,
) -> None:
    cache = projecting(read_store)
    customer, account = uuid4(), uuid4()
    await apply_all(
        read_store, [envelope(AccountOpened(account_id=account, customer_id=customer, currency="EUR"), 1)]
    )
    assert cache.get((layout.CUSTOMERS, str(customer))) is None  # no customer yet: a read finds none
    assert await read_store.customer(customer) is None
    await apply_all(read_store, [envelope(CustomerCreated(customer_id=customer, name="Bo", locale="en"), 1)])
    view = await read_store.customer(customer)
    assert view is not None
    assert [a.id for a in view.accounts] == [account]


async def test_concurrent_inserts_go_together_and_each_gets_its_own_outcome(read_store: ReadStore) -> None:
    inserts = Inserts(read_store.collection(layout.LEDGER))
    taken = str(uuid4())
    await inserts.insert({layout.ID: taken})
    ids = [str(uuid4()) for _ in range(40)]
    outcomes = await asyncio.gather(
        *(inserts.insert({layout.ID: doc_id}) for doc_id in [*ids[:20], taken, *ids[20:]]),
        return_exceptions=True,
    )
    assert [type(o) for o in outcomes].count(DuplicateKeyError) == 1
    assert isinstance(outcomes[20], DuplicateKeyError)
    assert inserts.rounds < 1 + 41  # the first went alone, the rest in far fewer rounds
    found = await read_store.collection(layout.LEDGER).count_documents({layout.ID: {"$in": ids}})
    assert found == 40


WRITES = {"insert", "update", "findAndModify", "delete"}


class WriteErrors(monitoring.CommandListener):
    """The write errors in the server's replies to writes, as (command, code): a failed insert of
    a duplicate is a reply with ``writeErrors``, not a failed command. (The client's closing
    ``endSessions``, which FerretDB v1 does not know, is not a write.)"""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []
        self.writes = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        if event.command_name in WRITES:
            self.writes += 1
            self.seen += [(event.command_name, error["code"]) for error in event.reply.get("writeErrors", [])]

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        if event.command_name in WRITES:
            self.seen.append((event.command_name, int(event.failure.get("code", 0))))


async def test_an_account_opening_fills_its_customer_without_a_failed_insert(
    mongodb_url: str, mongo_database: str
) -> None:
    """The customer's part of AccountOpened updates the customer's document first (fills=True):
    before, it tried an insert that failed on the existing document every time (12.5 duplicate-key
    errors a second in the soak's PostgreSQL log)."""
    errors = WriteErrors()
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        mongodb_url, tz_aware=True, uuidRepresentation="standard", event_listeners=[errors]
    )
    async with client:
        store = ReadStore(client[mongo_database])
        await store.ensure_indexes()
        customer, accounts = uuid4(), [uuid4(), uuid4()]
        await apply_all(
            store,
            [
                envelope(CustomerCreated(customer_id=customer, name="Cy", locale="en"), 1),
                *(
                    envelope(AccountOpened(account_id=account, customer_id=customer, currency="EUR"), 1)
                    for account in accounts
                ),
            ],
        )
        view = await store.customer(customer)
    assert view is not None
    assert sorted(a.id for a in view.accounts) == sorted(accounts)
    assert errors.writes >= 5  # the customer, two accounts, the customer twice more
    assert errors.seen == []
