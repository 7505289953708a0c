"""The denormalised customer view is right after any interleaving of customer and account events."""

import asyncio
import random
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from cqrs_contracts import (
    AccountOpened,
    CustomerCreated,
    CustomerDetailsEdited,
    CustomerMadePreferred,
    Event,
    EventEnvelope,
    MoneyDeposited,
    MoneyWithdrawn,
)
from query_service.projection import projector
from query_service.projection.repair import ReadStream
from query_service.read_model import layout
from query_service.read_model.model import ReadModel
from query_service.read_model.store import ReadStore
from tests.builders import stream


def account_stream(customer: UUID, currency: str, moves: list[str]) -> tuple[UUID, list[EventEnvelope]]:
    account = uuid4()
    events: list[Event] = [AccountOpened(account_id=account, customer_id=customer, currency=currency)]
    balance = Decimal(0)
    for move in moves:
        amount = Decimal(move)
        balance += amount
        kind = MoneyDeposited if amount > 0 else MoneyWithdrawn
        events.append(
            kind(
                account_id=account,
                customer_id=customer,
                currency=currency,
                amount=abs(amount),
                balance=balance,
                reference=f"move {len(events)}",
            )
        )
    return account, stream(*events)


@dataclass(frozen=True)
class Deliveries:
    customer: UUID
    eur: UUID
    usd: UUID
    events: list[EventEnvelope]
    read_stream: ReadStream


def one_customers_events(rng: random.Random) -> Deliveries:
    """A customer with two accounts: every event once, some twice, shuffled; and their streams."""
    customer = uuid4()
    customer_events = stream(
        CustomerCreated(customer_id=customer, name="Ada", locale="en"),
        CustomerMadePreferred(customer_id=customer),
        CustomerDetailsEdited(customer_id=customer, name="Ada King", locale="en-GB"),
    )
    eur, eur_events = account_stream(customer, "EUR", ["300.00", "-10.00", "-20.50", "5.25"])
    usd, usd_events = account_stream(customer, "USD", ["15.00", "-15.00", "7.00"])
    streams = {customer: customer_events, eur: eur_events, usd: usd_events}

    async def read_stream(stream_id: UUID, after: int) -> list[EventEnvelope]:
        return [e for e in streams[stream_id] if e.version > after]

    deliveries = customer_events + eur_events + usd_events
    deliveries += rng.sample(deliveries, k=8)  # duplicates
    rng.shuffle(deliveries)
    return Deliveries(customer, eur, usd, deliveries, read_stream)


@pytest.mark.parametrize("seed", range(8))
async def test_customer_view_after_a_random_interleaving_with_duplicates(
    read_store: ReadStore, seed: int
) -> None:
    sent = one_customers_events(random.Random(seed))
    for delivery in sent.events:
        await projector.apply(delivery, read_store, sent.read_stream)
    await assert_the_view(read_store, sent)


@pytest.mark.parametrize("seed", range(4))
async def test_customer_view_when_every_event_is_delivered_at_once(read_store: ReadStore, seed: int) -> None:
    """What a prefetching consumer does: the customer's and its accounts' events all in flight."""
    sent = one_customers_events(random.Random(seed))
    events = projector.Projector(ReadModel(read_store.db, read_store), sent.read_stream)
    await asyncio.gather(*(events.handle(delivery) for delivery in sent.events))
    await assert_the_view(read_store, sent)


async def assert_the_view(read_store: ReadStore, sent: Deliveries) -> None:
    customer, eur, usd = sent.customer, sent.eur, sent.usd
    view = await read_store.customer(customer)
    assert view is not None
    assert (view.name, view.locale, view.is_preferred, view.version) == ("Ada King", "en-GB", True, 3)
    assert {(a.id, a.currency, str(a.balance), a.version) for a in view.accounts} == {
        (eur, "EUR", "274.75", 5),
        (usd, "USD", "7.00", 4),
    }
    assert {k: str(v) for k, v in view.totals.items()} == {"EUR": "274.75", "USD": "7.00"}
    history = await read_store.pages.transactions(eur, 10, None)
    assert [t.version for t in history.items] == [5, 4, 3, 2]
    assert [str(t.balance_after) for t in history.items] == ["274.75", "269.50", "290.00", "300.00"]


async def test_each_transaction_is_a_typed_ledger_document_written_once(read_store: ReadStore) -> None:
    """What a MongoDB user or a reporting tool reads: amounts as numbers (minor units), not text."""
    sent = one_customers_events(random.Random(0))  # with duplicates, shuffled
    for delivery in sent.events:
        await projector.apply(delivery, read_store, sent.read_stream)
    ledger = read_store.db[layout.named(layout.LEDGER, read_store.generation)]
    entries = await ledger.find({layout.ACCOUNT_ID: str(sent.eur)}).sort(layout.LEDGER_VERSION).to_list(None)
    assert [
        (e[layout.LEDGER_VERSION], e[layout.KIND], e[layout.AMOUNT_MINOR], e[layout.BALANCE_AFTER_MINOR])
        for e in entries
    ] == [
        (2, "deposit", 30000, 30000),
        (3, "withdrawal", 1000, 29000),
        (4, "withdrawal", 2050, 26950),
        (5, "deposit", 525, 27475),
    ]
    assert all(
        type(e[layout.AMOUNT_MINOR]) is int and type(e[layout.BALANCE_AFTER_MINOR]) is int for e in entries
    )
    assert {(e[layout.CUSTOMER_ID], e[layout.CURRENCY]) for e in entries} == {(str(sent.customer), "EUR")}
    assert [e[layout.REFERENCE] for e in entries] == ["move 1", "move 2", "move 3", "move 4"]
    assert all(isinstance(e[layout.AT], datetime) for e in entries)
