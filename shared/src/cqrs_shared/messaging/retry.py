"""Retries with a budget: exponential backoff with jitter, each wait held by the broker in a retry queue.

policy = RetryPolicy(attempts=5, delay=1.0, max_delay=60.0)
policy.delays()      # (1.0, 2.0, 4.0, 8.0): one retry queue per delay
policy.wait(2)       # ~2 s (1.5-2.0, jittered) before attempt 3; None once attempts are spent
"""

import random
from dataclasses import dataclass

# Equal-ish jitter: a wait is 75-100 % of its level, so replicas that failed together spread out and
# a message never waits longer than its level (the one in front of it in the retry queue expires first).
JITTER = 0.25


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int
    delay: float
    max_delay: float

    def level(self, attempt: int) -> float:
        """The delay after failed attempt ``attempt`` (1-based), before jitter."""
        return float(min(self.delay * 2 ** (attempt - 1), self.max_delay))

    def delays(self) -> tuple[float, ...]:
        return tuple(sorted({self.level(attempt) for attempt in range(1, self.attempts)}))

    def wait(self, attempt: int) -> float | None:
        """Seconds to wait after failed attempt ``attempt``; None when the budget is spent."""
        if attempt >= self.attempts:
            return None
        return self.level(attempt) * random.uniform(1 - JITTER, 1)
