"""The denormalised customer view is right after any interleaving of customer and account events."""

import asyncio
import random
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from cqrs_shared.contracts import (
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
