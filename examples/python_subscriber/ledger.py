"""Each customer's balance total from the pair's events, in SQLite; each event applied once in effect.

The pair delivers every event at least once. An event's id, its stream's version and its global
position are recorded in the transaction that applies it, so a redelivered or republished event
changes nothing, and a crash between that commit and the broker's ack only brings the event back to
be ignored. ``position`` is where to catch up from: every event at or below it was handled.

    ledger = Ledger.open("ledger.sqlite3")
    ledger.apply(envelope).outcome    # "applied", or "duplicate", "stale", "gap"
    ledger.position                   # 41: events 1..41 handled; read the history after it
    ledger.totals(customer_id)        # {"EUR": Decimal("20.00")}
"""

import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, assert_never
from uuid import UUID

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
    TransferCompleted,
    TransferDebited,
    TransferFailed,
    TransferRequested,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (event_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS streams (stream_id TEXT PRIMARY KEY, version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
    account_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, currency TEXT NOT NULL, balance TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS position (id INTEGER PRIMARY KEY CHECK (id = 1), handled INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS ahead (position INTEGER PRIMARY KEY);
"""
# applied: the stream's next version. duplicate: this event (its id, or its position) was handled
# before. stale: an older version of its stream than one applied (a late copy). gap: versions are
# missing before it; applied all the same, as a money event carries the account's balance after it,
# not only the amount.
Outcome = Literal["applied", "duplicate", "stale", "gap"]


@dataclass(frozen=True)
class Handled:
    envelope: EventEnvelope
    outcome: Outcome
    seen_version: int  # the stream's version before this event


class Ledger:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    @classmethod
    def open(cls, path: str) -> "Ledger":
        db = sqlite3.connect(path, isolation_level="DEFERRED")
        db.executescript(SCHEMA)
        return cls(db)

    def close(self) -> None:
        self._db.close()

    @property
    def position(self) -> int:
        """Every event at or below this global position was handled (applied, or set aside)."""
        row = self._db.execute("SELECT handled FROM position").fetchone()
        return int(row[0]) if row else 0

    def apply(self, envelope: EventEnvelope) -> Handled:
        """Apply ``envelope`` unless it was handled before; one transaction, committed on return."""
        with self._db:  # commits, or rolls back on an exception
            at = envelope.position
            if at is not None and at <= self.position:
                return Handled(envelope, "duplicate", envelope.version)
            handled = self._once(envelope)
            if at is not None:
                self._advance(at)
        return handled

    def set_aside(self, position: int) -> None:
        """The event at ``position`` counts as handled, unapplied: it waits in the dead letters."""
        with self._db:
            if position > self.position:
                self._advance(position)

    def _once(self, envelope: EventEnvelope) -> Handled:
        event_id, stream_id = str(envelope.event_id), str(envelope.stream_id)
        if self._db.execute("SELECT 1 FROM seen WHERE event_id = ?", (event_id,)).fetchone():
            return Handled(envelope, "duplicate", envelope.version)
        self._db.execute("INSERT INTO seen VALUES (?)", (event_id,))
        row = self._db.execute("SELECT version FROM streams WHERE stream_id = ?", (stream_id,)).fetchone()
        seen_version = row[0] if row else 0
        if envelope.version <= seen_version:
            return Handled(envelope, "stale", seen_version)
        self._evolve(envelope.event)
        self._db.execute(
            "INSERT INTO streams VALUES (?, ?) ON CONFLICT (stream_id) DO UPDATE SET version = ?",
            (stream_id, envelope.version, envelope.version),
        )
        outcome: Outcome = "applied" if envelope.version == seen_version + 1 else "gap"
        return Handled(envelope, outcome, seen_version)

    def _advance(self, position: int) -> None:
        """Handled through ``position`` when it is the next one, and through those handled ahead of
        it; else it waits in ``ahead``: live events of different streams may come out of order."""
        handled = self.position
        if position != handled + 1:
            self._db.execute("INSERT OR IGNORE INTO ahead VALUES (?)", (position,))
            return
        handled = position
        while self._db.execute("DELETE FROM ahead WHERE position = ?", (handled + 1,)).rowcount:
            handled += 1
        upsert = "INSERT INTO position VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET handled = ?"
        self._db.execute(upsert, (handled, handled))

    def _evolve(self, event: Event) -> None:
        match event:
            case AccountOpened():
                self._balance(event.account_id, event.customer_id, event.currency, Decimal(0))
            case MoneyDeposited() | MoneyWithdrawn():
                self._balance(event.account_id, event.customer_id, event.currency, event.balance)
            case (
                CustomerCreated()
                | CustomerMadePreferred()
                | CustomerLocaleChanged()
                | CustomerDetailsEdited()
                | TransferRequested()
                | TransferDebited()
                | TransferCompleted()
                | TransferFailed()
            ):
                pass  # no balance changes: a transfer's money moves in its steps, MoneyWithdrawn/-Deposited
            case _:
                assert_never(event)

    def _balance(self, account_id: UUID, customer_id: UUID, currency: str, balance: Decimal) -> None:
        self._db.execute(
            "INSERT INTO accounts VALUES (?, ?, ?, ?) ON CONFLICT (account_id) DO UPDATE SET balance = ?",
            (str(account_id), str(customer_id), currency, str(balance), str(balance)),
        )

    def totals(self, customer_id: UUID) -> dict[str, Decimal]:
        """The customer's accounts' balances summed, by currency."""
        rows = self._db.execute(
            "SELECT currency, balance FROM accounts WHERE customer_id = ?", (str(customer_id),)
        )
        found: dict[str, Decimal] = {}
        for currency, balance in rows:
            found[currency] = found.get(currency, Decimal(0)) + Decimal(balance)
        return found
