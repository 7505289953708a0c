"""The global position up to which this process knows every event is applied (its checkpoint).

positions = AppliedPositions(start=checkpoint)
positions.applied(7); positions.applied(5); positions.applied(6)
positions.low          # 7 once 6 and 7 follow 5 (the start being 4)

Events arrive out of position order (partitions, retries, held-back streams), so the low-water mark
moves only over an unbroken run. A hole that stays (an event of a partition another replica
projects, or one dead-lettered) holds the mark there: the checkpoint is then behind, never ahead,
and a catch-up from it re-reads events whose application is a harmless duplicate.
"""

import time

# Positions remembered above a hole, at most: past this the mark stops until the hole is filled or
# the process starts again (a catch-up from the checkpoint), rather than memory growing unbounded.
MAX_AHEAD = 100_000


class AppliedPositions:
    def __init__(self, start: int = 0) -> None:
        self.low = start
        self._ahead: set[int] = set()
        self._moved_at = time.monotonic()
        self.overflowed = False

    def applied(self, position: int | None) -> None:
        """The event at ``position`` is applied (None: an event from a store without positions)."""
        if position is None or position <= self.low:
            return
        if position == self.low + 1:
            self._move_to(position)
        elif len(self._ahead) < MAX_AHEAD:
            self._ahead.add(position)
        else:
            self.overflowed = True

    def reset(self, start: int) -> None:
        """Begin again at ``start`` (a catch-up reached it, or a new generation began there)."""
        if start > self.low:
            self._ahead = {p for p in self._ahead if p > start}
            self._move_to(start)

    def _move_to(self, position: int) -> None:
        """The mark at ``position``, then over what was applied ahead of it without a hole."""
        self.low = position
        while self.low + 1 in self._ahead:
            self._ahead.remove(self.low + 1)
            self.low += 1
        self._moved_at = time.monotonic()

    def holed_for(self) -> float:
        """Seconds the mark has been stuck below events already applied (0 when there is no hole)."""
        return time.monotonic() - self._moved_at if self._ahead else 0.0
