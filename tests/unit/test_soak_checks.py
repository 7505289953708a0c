"""The soak's verdict (bench/soak_checks.py): windows, the depth trend, the lag floor, memory, failures."""

import pytest

from bench.soak_checks import (
    RELAY_BATCH,
    Sample,
    Windows,
    clean,
    depth,
    judge,
    lag,
    memory,
    sample_every,
    slope,
    tail,
    tail_name,
)
from bench.timing import Timed

TOTAL = 1800.0
RATE = 200.0  # commands (events) per second offered


def run(
    depths: list[int] | None = None,
    rss: list[float] | None = None,
    lags: list[float] | None = None,
    total: float = TOTAL,
    count: int = 180,
) -> list[Sample]:
    """``count`` + 1 samples over ``total`` seconds, from t = 0."""
    every = total / count
    return [
        Sample(
            t=k * every,
            rss_mb={"command service": 70.0, "query service": (rss or [90.0] * (count + 1))[k]},
            depth=(depths or [0] * (count + 1))[k],
            lag_ms=[(lags or [20.0] * (count + 1))[k]] * 20,
        )
        for k in range(count + 1)
    ]


def test_a_long_run_has_five_minute_windows_and_a_short_one_fifths() -> None:
    assert Windows.of(1800) == Windows(600, (600, 900), (1500, 1800))
    assert Windows.of(60) == Windows(20, (20, 30), (50, 60))


def test_a_sample_every_ten_seconds_but_fifteen_in_a_short_run() -> None:
    assert sample_every(1800) == 10
    assert sample_every(45) == 3


def test_the_least_squares_slope_of_a_line_is_its_slope() -> None:
    assert slope([(0, 1), (1, 3), (2, 5)]) == pytest.approx(2)
    assert slope([(5, 7)]) == 0


def test_a_steady_pair_passes_every_check() -> None:
    checks = judge(run(), TOTAL, RATE, {})
    assert all(check.passed for check in checks), checks


def test_a_queue_that_keeps_growing_fails() -> None:
    growing = [k * 10 for k in range(181)]  # 1 event/s more than applied
    assert not depth(run(growing), Windows.of(TOTAL), RATE).check().passed


def test_a_sawtooth_of_relay_batches_is_no_trend() -> None:
    teeth = [RELAY_BATCH if k % 7 in (0, 1) else 0 for k in range(181)]
    teeth[-1] = teeth[-2] = RELAY_BATCH  # a tall tooth at the very end tilts the line most
    slow = 40.0  # 2 s of events is 80, less than a batch: the margin is the batch
    trend = depth(run(teeth), Windows.of(TOTAL), slow)
    assert trend.margin == RELAY_BATCH
    assert trend.check().passed


def test_a_backlog_that_grows_but_stays_within_two_seconds_of_events_passes() -> None:
    small = [k * 2 for k in range(181)]  # up to 360 events: 1.8 s at 200/s
    assert depth(run(small), Windows.of(TOTAL), RATE).check().passed


def test_a_short_tall_spike_in_the_middle_does_not_fail_the_trend() -> None:
    spike = [5_000 if 80 <= k <= 82 else 0 for k in range(181)]
    assert depth(run(spike), Windows.of(TOTAL), RATE).check().passed


def test_memory_growing_more_than_a_tenth_after_warm_up_fails() -> None:
    rss = [90.0] * 31 + [90.0 + 0.1 * k for k in range(150)]  # 90 MB after warm-up, 105 at the end
    checks = {check.name: check for check in memory(run(rss=rss), Windows.of(TOTAL))}
    assert checks["memory, command service"].passed
    assert not checks["memory, query service"].passed


def test_memory_growing_during_warm_up_only_passes() -> None:
    rss = [50.0 + k for k in range(30)] + [80.0] * 151
    assert all(check.passed for check in memory(run(rss=rss), Windows.of(TOTAL)))


def test_lag_p99_doubling_from_the_first_window_to_the_last_fails() -> None:
    lags = [30.0] * 150 + [65.0] * 31
    check = lag(run(lags=lags), Windows.of(TOTAL))
    assert not check.passed, check
    assert check.detail.endswith("limit 60.0 ms"), check


def test_a_tiny_first_p99_is_compared_as_the_floor() -> None:
    lags = [2.0] * 150 + [45.0] * 31  # 22.5 x, but within 50 ms: twice the floor, the lag target
    check = lag(run(lags=lags), Windows.of(TOTAL))
    assert check.passed, check
    assert check.detail.endswith("limit 50.0 ms"), check


def test_a_lag_that_leaves_the_target_fails_however_quiet_the_first_window_was() -> None:
    assert not lag(run(lags=[2.0] * 150 + [51.0] * 31), Windows.of(TOTAL)).passed


def test_the_tail_is_the_p99_of_600_read_backs_or_more_and_leaves_five_above_it_in_fewer() -> None:
    assert (tail(Timed(samples=[float(k) for k in range(1000)])), tail_name(Timed(samples=[0.0] * 1000))) == (
        990.0,
        "p99",
    )
    ninety = Timed(samples=[float(k) for k in range(90)])
    assert (tail(ninety), tail_name(ninety)) == (84.0, "p94")  # the "p99" of 90 is their maximum


def short_run(last_window: list[float]) -> list[Sample]:
    """The e2e soak's shape: 45 s, a sample every 3 s with 30 read-backs of 50 ms; the samples at
    39, 42 and 45 s (the last window) hold ``last_window``, 90 read-backs."""
    samples = [
        Sample(t=3.0 * k, rss_mb={"query service": 70.0}, depth=0, lag_ms=[50.0] * 30) for k in range(16)
    ]
    for k, sample in enumerate(samples[13:]):
        sample.lag_ms = last_window[30 * k : 30 * (k + 1)]
    return samples


def test_one_stalled_read_back_in_a_short_run_is_no_trend() -> None:
    check = lag(short_run([50.0] * 89 + [194.0]), Windows.of(45.0))
    assert check.passed, check
    assert (
        check.detail
        == "p91 50.0 ms (n 60) in the first window, p94 50.0 ms (n 90) in the last; limit 100.0 ms"
    )


def test_the_fresh_machine_run_s_tail_of_40_ms_after_17_is_within_the_target() -> None:
    samples = short_run([17.0] * 84 + [39.7] * 6)
    for sample in samples[6:8]:  # the first window: 15-22.5 s, the samples at 18 and 21 s
        sample.lag_ms = [17.0] * 30
    check = lag(samples, Windows.of(45.0))
    assert check.passed, check
    assert check.detail == (
        "p91 17.0 ms (n 60) in the first window, p94 39.7 ms (n 90) in the last; limit 50.0 ms"
    )


def test_a_short_run_whose_lag_doubles_beyond_a_few_stalls_fails() -> None:
    assert not lag(short_run([50.0] * 84 + [101.0] * 6), Windows.of(45.0)).passed


def test_a_window_without_read_backs_fails_the_lag_check() -> None:
    samples = run()
    for sample in samples[150:]:
        sample.lag_ms = []
    assert not lag(samples, Windows.of(TOTAL)).passed


def test_any_failed_timed_out_or_shed_operation_fails() -> None:
    assert clean({"commands timed out": 0}).passed
    failed = clean({"commands timed out": 1, "queries shed": 2})
    assert not failed.passed
    assert failed.detail == "commands timed out 1, queries shed 2"
