"""Builders every test speed shares: event envelopes, streams, replies, raw event-store rows.

stream(CustomerCreated(customer_id=ID, name="Ada", locale="en"), CustomerMadePreferred(customer_id=ID))
accepted(await client.send(CreateCustomer(name="Ada", locale="en")))
"""

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from itertools import repeat
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from command_service.aggregates import ACCOUNT_AGGREGATE, CUSTOMER_AGGREGATE
from cqrs_contracts import (
    ACCOUNT,
    CUSTOMER,
    TRANSFER,
    AccountEvent,
    AccountOpened,
    CommandAccepted,
    CommandRejected,
    CommandReply,
    ErrorCode,
    Event,
    EventEnvelope,
    MoneyDeposited,
    StreamType,
    TransferEvent,
)

AT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def stream_of(event: Event) -> tuple[StreamType, UUID]:
    """The stream an event belongs to: its account's, its transfer's, or its customer's."""
    if isinstance(event, AccountEvent):
        return ACCOUNT, event.account_id
    if isinstance(event, TransferEvent):
        return TRANSFER, event.transfer_id
    return CUSTOMER, event.customer_id


def envelope(event: Event, version: int, *, at: datetime = AT) -> EventEnvelope:
    """``event`` at ``version`` of its own stream."""
    stream_type, stream_id = stream_of(event)
    return EventEnvelope(
        event_id=uuid4(),
        stream_type=stream_type,
        stream_id=stream_id,
        version=version,
        occurred_at=at,
        event=event,
    )


def stream(*events: Event, at: datetime = AT) -> list[EventEnvelope]:
    """Events of one stream at versions 1, 2, 3, ..."""
    return [envelope(event, version, at=at) for version, event in enumerate(events, start=1)]


def savings(
    account_id: UUID, customer_id: UUID, deposits: int, times: Iterator[datetime] | None = None
) -> list[EventEnvelope]:
    """An account's stream: opened in EUR, then ``deposits`` deposits of 1.00 (each at the next of
    ``times``, or all at AT)."""
    clock = times or repeat(AT)
    opened = AccountOpened(account_id=account_id, customer_id=customer_id, currency="EUR")
    events = [envelope(opened, 1, at=next(clock))]
    for n in range(1, deposits + 1):
        deposit = MoneyDeposited(
            reference="",
            account_id=account_id,
            customer_id=customer_id,
            currency="EUR",
            amount=Decimal("1.00"),
            balance=Decimal(f"{n}.00"),
        )
        events.append(envelope(deposit, n + 1, at=next(clock)))
    return events


def accepted(reply: CommandReply) -> CommandAccepted:
    assert isinstance(reply, CommandAccepted), reply
    return reply


def rejected(reply: CommandReply, code: ErrorCode) -> CommandRejected:
    assert isinstance(reply, CommandRejected), reply
    assert reply.error.code == code, reply
    return reply


async def insert_events(
    conn: asyncpg.Connection,
    envelopes: Sequence[EventEnvelope],
    *,
    published: bool = False,
    stored_as: Callable[[EventEnvelope], tuple[int, str]] | None = None,
) -> None:
    """Rows in the command side's event store, written around the handler (as a test's set-up).

    ``stored_as`` gives an event's (schema_version, JSON data) as an older writer stored it.
    """
    await conn.executemany(
        "INSERT INTO events (event_id, stream_type, stream_id, version, type, schema_version, data,"
        " correlation_id, occurred_at, published_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb, 'test', $8::timestamptz,"
        " CASE WHEN $9::boolean THEN $8::timestamptz END)",
        [
            (
                e.event_id,
                e.stream_type,
                e.stream_id,
                e.version,
                e.event.type,
                *(stored_as or _as_written)(e),
                e.occurred_at,
                published,
            )
            for e in envelopes
        ],
    )


def _as_written(envelope: EventEnvelope) -> tuple[int, str]:
    return envelope.schema_version, envelope.event.model_dump_json()


async def insert_streams(conn: asyncpg.Connection, streams: list[list[EventEnvelope]]) -> None:
    """The streams table's rows, with the state the deciders fold from the events."""
    rows = []
    for events in streams:
        aggregate = ACCOUNT_AGGREGATE if events[0].stream_type == "account" else CUSTOMER_AGGREGATE
        state: Any = None
        for item in events:
            state = aggregate.evolve(state, item.event)
        last = events[-1]
        rows.append(
            (
                last.stream_id,
                last.stream_type,
                last.version,
                json.dumps(aggregate.dump(state)),
                last.occurred_at,
            )
        )
    await conn.executemany(
        "INSERT INTO streams (stream_id, stream_type, version, state, updated_at)"
        " VALUES ($1, $2, $3, $4::text::jsonb, $5)",
        rows,
    )
