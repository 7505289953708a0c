"""The streams the outbox relay holds back, and for how long: one whose next event the broker
returned unrouted, or whose next row does not read as an event (relay.py says why)."""

import time
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from command_service import metrics

HoldReason = Literal["returned", "unreadable"]
HOLD_REASONS: tuple[HoldReason, ...] = ("returned", "unreadable")


@dataclass(frozen=True)
class Backoff:
    """A held-back stream's pause before its next try: ``first`` seconds, doubling up to ``most``.

    Bounded, so a stream whose queue gets bound (or whose row gets repaired) goes out soon after.
    """

    first: float = 1.0
    most: float = 15.0

    def pause(self, tries: int) -> float:
        return float(min(self.first * 2 ** (tries - 1), self.most))


DEFAULT_BACKOFF = Backoff()


@dataclass(frozen=True)
class _Hold:
    reason: HoldReason
    tries: int
    until: float  # time.monotonic()


class HeldStreams:
    """The streams the relay holds back: why, how often tried, and until when."""

    def __init__(self, backoff: Backoff) -> None:
        self._backoff = backoff
        self._holds: dict[UUID, _Hold] = {}

    def waiting(self) -> list[UUID]:
        """The streams still in their pause: left out of the next batch, so they cannot fill it."""
        now = time.monotonic()
        return [stream_id for stream_id, hold in self._holds.items() if hold.until > now]

    def hold(self, stream_id: UUID, reason: HoldReason) -> bool:
        """Hold ``stream_id`` back, longer than last time; whether this starts the hold (to log once)."""
        last = self._holds.get(stream_id)
        tries = last.tries + 1 if last is not None and last.reason == reason else 1
        self._holds[stream_id] = _Hold(reason, tries, time.monotonic() + self._backoff.pause(tries))
        return tries == 1

    def release(self, stream_id: UUID) -> _Hold | None:
        """End the hold on ``stream_id`` (its next event went out); the hold it was under, if any."""
        return self._holds.pop(stream_id, None)

    def clear(self) -> None:
        self._holds.clear()

    def report(self) -> None:
        for reason in HOLD_REASONS:
            held = sum(1 for hold in self._holds.values() if hold.reason == reason)
            metrics.RELAY_HELD_STREAMS.labels(reason).set(held)
