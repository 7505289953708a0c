"""The checkpoint's low-water mark: it moves only over an unbroken run of applied positions."""

import pytest

from query_service.projection import positions
from query_service.projection.positions import AppliedPositions


def test_the_mark_moves_over_positions_applied_in_order() -> None:
    applied = AppliedPositions(start=4)
    for position in (5, 6, 7):
        applied.applied(position)
    assert applied.low == 7
    assert applied.holed_for() == 0.0


def test_a_hole_holds_the_mark_until_it_is_filled_then_it_joins_what_was_ahead() -> None:
    applied = AppliedPositions()
    for position in (1, 3, 4, 6):
        applied.applied(position)
    assert applied.low == 1
    assert applied.holed_for() >= 0.0
    applied.applied(2)
    assert applied.low == 4
    applied.applied(5)
    assert applied.low == 6


def test_duplicates_old_positions_and_events_without_one_change_nothing() -> None:
    applied = AppliedPositions(start=10)
    for position in (3, 10, None):
        applied.applied(position)
    assert applied.low == 10


def test_a_reset_forward_keeps_what_was_ahead_of_it() -> None:
    applied = AppliedPositions()
    for position in (2, 7, 8):
        applied.applied(position)
    applied.reset(6)
    assert applied.low == 8
    applied.reset(3)  # never back
    assert applied.low == 8


def test_past_the_bound_ahead_the_mark_stays_rather_than_memory_growing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(positions, "MAX_AHEAD", 3)
    applied = AppliedPositions()
    for position in (2, 3, 4, 5, 6):
        applied.applied(position)
    assert applied.overflowed
    applied.applied(1)
    assert applied.low == 4  # 5 and 6 were not remembered: a later catch-up re-reads them
