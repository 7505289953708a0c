"""The soak's verdict from its samples: pure, no I/O (bench/soak.py measures, this judges).

The run of ``total`` seconds is cut into a warm-up (a third of the run: 10 minutes of 30), a first
window just after it and a last window at the end (5 minutes each, a sixth of a run shorter than
30 minutes). A sample at time t covers the
interval (t - interval, t]; it belongs to a window when t falls in it. The checks:

- memory: each service's largest resident memory in the last window is at most 1.10 x its memory at
  the end of the warm-up (the last sample at or before it);
- queue depth: the event queues' depth does not trend upward. A least-squares line is fitted to the
  depth over every sample from the end of the warm-up on; the run fails only when the growth that
  line predicts over that span AND the last window's mean depth over the first window's both exceed
  the margin: 2 seconds' worth of events at the offered command rate (each command commits one
  event), and never less than RELAY_BATCH. The relay publishes in batches of up to 200 events, so the
  depth is a sawtooth of that height whose phase at the samples is chance: one tall tooth near
  the end tilts the line, but does not move a window's mean by a batch, and the two must agree;
- lag: the tail of accepted -> visible in the last window is at most 2 x the first window's, the
  first window's counted as at least LAG_FLOOR_MS, so that the limit is never below 50 ms, the lag
  p99 issue 24 sets as the pair's target: a last window within the target is no trend worth failing
  a run for. On a quiet machine the first window's tail can be 10-20 ms, and a few read-backs of
  40 ms at the end are scheduling noise (a fresh-machine CI run failed a 45-s soak on a first tail
  of 17.0 ms and a last of 39.7, its 3-s samples' p99s ranging 19-91 ms throughout). A window's
  tail is its p99 when TAIL_ABOVE read-backs lie above the p99 (600 or more), and otherwise the
  highest rank with TAIL_ABOVE above it: the "p99" of 90 read-backs is their maximum, which one
  stall of the machine sets (a fresh-machine CI run failed a 45-s soak on one 194-ms read-back
  among 90). Each window needs MIN_LAG_SAMPLES (the tail is then at least the p90);
- clean: no command or query failed, timed out or was shed (the open loop's bound on in-flight
  operations: the pair falling behind the offered rate).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.timing import Timed

MEMORY_GROWTH = 1.10
DEPTH_MARGIN_SECONDS = 2.0
RELAY_BATCH = 200  # the command service's CQRS_RELAY_BATCH_SIZE default (command_service.relay)
LAG_RATIO = 2.0
LAG_FLOOR_MS = 25.0  # the limit's floor is twice this: 50 ms, issue 24's lag p99 target
TAIL_ABOVE = 5  # read-backs above a window's tail
MIN_LAG_SAMPLES = 50
FULL_WINDOW = 300.0  # seconds: each window of a run of 30 minutes or more (a sixth of a shorter one)
# The warm-up: a third of the run, 10 minutes of 30. The bounded structures must be full before
# memory is judged: at the half rate measured here (63 commands/s) the query service's 20,000-view
# cache filled after 7 minutes, and a warm-up of 5 minutes judged that fill as growth.
WARM_UP_SHARE = 1 / 3
SAMPLE_EVERY = 10.0  # seconds between samples, fewer in a short run:
MIN_SAMPLES = 15  # at least this many samples per run


@dataclass
class Sample:
    """What one sample saw at ``t`` seconds into the load; counts are cumulative, ``lag_ms`` this
    interval's read-backs (accepted -> visible)."""

    t: float
    rss_mb: dict[str, float]
    depth: int
    commands: int = 0
    queries: int = 0
    failures: int = 0
    lag_ms: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Windows:
    warm_up: float  # end of the warm-up, seconds into the load
    first: tuple[float, float]
    last: tuple[float, float]

    @classmethod
    def of(cls, total: float) -> "Windows":
        warm_up = total * WARM_UP_SHARE
        span = min(FULL_WINDOW, total / 6)
        return cls(warm_up, (warm_up, warm_up + span), (total - span, total))


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


def sample_every(total: float) -> float:
    """Seconds between samples: SAMPLE_EVERY, or less, so that a short run has MIN_SAMPLES."""
    return min(SAMPLE_EVERY, total / MIN_SAMPLES)


def within(samples: Sequence[Sample], window: tuple[float, float]) -> list[Sample]:
    start, end = window
    return [s for s in samples if start < s.t <= end + 1e-6]


def at_warm_up(samples: Sequence[Sample], windows: Windows) -> Sample:
    """The last sample at or before the end of the warm-up (the first if none is)."""
    before = [s for s in samples if s.t <= windows.warm_up + 1e-6]
    return before[-1] if before else samples[0]


def slope(points: Sequence[tuple[float, float]]) -> float:
    """The least-squares slope of y over x (0 with fewer than two distinct x)."""
    if len(points) < 2:
        return 0.0
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    spread = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / spread if spread else 0.0


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def lag_ms(samples: Sequence[Sample]) -> Timed:
    return Timed(samples=[ms for s in samples for ms in s.lag_ms])


def _tail_rank(n: int) -> int:
    """The 0-based rank of the tail among ``n`` ordered samples."""
    return max(min(int(n * 0.99), n - 1 - TAIL_ABOVE), 0)


def tail(timed: Timed) -> float:
    """The p99 of ``timed``, or, with fewer than 600 samples, the sample with TAIL_ABOVE above it
    (NaN for none)."""
    ordered = sorted(timed.samples)
    return ordered[_tail_rank(len(ordered))] if ordered else float("nan")


def tail_name(timed: Timed) -> str:
    """Which quantile ``tail`` took: "p99", or "p94" for 90 samples."""
    n = len(timed.samples)
    return f"p{100 * (_tail_rank(n) + 1) // n}" if n else "p99"


def memory(samples: Sequence[Sample], windows: Windows) -> list[Check]:
    base = at_warm_up(samples, windows).rss_mb
    last = within(samples, windows.last)
    checks = []
    for service, start in base.items():
        peak = max(s.rss_mb.get(service, 0.0) for s in last) if last else 0.0
        limit = MEMORY_GROWTH * start
        detail = f"{service}: {start:.1f} MB after warm-up, at most {peak:.1f} MB in the last window"
        checks.append(
            Check(f"memory, {service}", bool(last) and peak <= limit, f"{detail} (limit {limit:.1f})")
        )
    return checks


@dataclass(frozen=True)
class Depth:
    slope_per_s: float
    growth: float  # what the slope adds over the post-warm-up span
    margin: float
    first_mean: float
    last_mean: float

    def check(self) -> Check:
        rising = self.growth > self.margin and self.last_mean - self.first_mean > self.margin
        detail = (
            f"slope {self.slope_per_s:+.3f} events/s ({self.growth:+.0f} over the run after warm-up), "
            f"window means {self.first_mean:.1f} -> {self.last_mean:.1f}; margin {self.margin:.0f}"
        )
        return Check("queue depth does not trend upward", not rising, detail)


def depth(samples: Sequence[Sample], windows: Windows, events_per_s: float) -> Depth:
    after = [s for s in samples if s.t >= at_warm_up(samples, windows).t]
    rate = slope([(s.t, float(s.depth)) for s in after])
    span = after[-1].t - after[0].t if after else 0.0
    return Depth(
        slope_per_s=rate,
        growth=rate * span,
        margin=max(DEPTH_MARGIN_SECONDS * events_per_s, RELAY_BATCH),
        first_mean=mean([float(s.depth) for s in within(samples, windows.first)]),
        last_mean=mean([float(s.depth) for s in within(samples, windows.last)]),
    )


def lag(samples: Sequence[Sample], windows: Windows) -> Check:
    first, last = lag_ms(within(samples, windows.first)), lag_ms(within(samples, windows.last))
    few = min(len(first.samples), len(last.samples)) < MIN_LAG_SAMPLES
    limit = LAG_RATIO * max(tail(first), LAG_FLOOR_MS) if first.samples else 0.0
    detail = f"{_tail(first)} in the first window, {_tail(last)} in the last; limit {limit:.1f} ms"
    if few:
        detail += f"; fewer than {MIN_LAG_SAMPLES} read-backs in a window"
    passed = not few and tail(last) <= limit
    return Check("lag tail, last window <= 2 x first", passed, detail)


def _tail(timed: Timed) -> str:
    """ "p94 78.1 ms (n 90)", "- (n 0)"."""
    n = len(timed.samples)
    return f"{tail_name(timed)} {tail(timed):.1f} ms (n {n})" if n else "- (n 0)"


def clean(failures: dict[str, int]) -> Check:
    bad = {kind: n for kind, n in failures.items() if n}
    detail = ", ".join(f"{kind} {n}" for kind, n in sorted(bad.items())) or "none failed"
    return Check("no failed, timed-out or shed operation", not bad, detail)


def judge(
    samples: Sequence[Sample], total: float, events_per_s: float, failures: dict[str, int]
) -> list[Check]:
    """Every check of a run of ``total`` seconds at ``events_per_s`` offered."""
    windows = Windows.of(total)
    return [
        *memory(samples, windows),
        depth(samples, windows, events_per_s).check(),
        lag(samples, windows),
        clean(failures),
    ]
