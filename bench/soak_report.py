"""What a soak prints, writes (JSON) and draws (PNG), from its samples and checks (soak_checks)."""

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.soak_checks import (
    LAG_FLOOR_MS,
    Check,
    Sample,
    Windows,
    at_warm_up,
    depth,
    lag_ms,
    mean,
    tail,
    tail_name,
    within,
)
from bench.timing import Timed


def document(
    facts: dict[str, Any], samples: Sequence[Sample], checks: list[Check], load: dict[str, Any]
) -> dict[str, Any]:
    """The whole run as one JSON-able document: ``load`` holds the counts of the open loops."""
    windows = Windows.of(facts["seconds"])
    first, last = within(samples, windows.first), within(samples, windows.last)
    trend = depth(samples, windows, facts["offered_commands_per_s"])
    return {
        "facts": {
            **facts,
            "warm_up_s": round(windows.warm_up, 1),
            "window_s": round(windows.first[1] - windows.first[0], 1),
        },
        "load": load,
        "rss_mb": {
            service: {
                "start": samples[0].rss_mb[service],
                "after_warm_up": at_warm_up(samples, windows).rss_mb[service],
                "max_last_window": max((s.rss_mb[service] for s in last), default=None),
                "end": samples[-1].rss_mb[service],
            }
            for service in samples[0].rss_mb
        },
        "queue_depth": {
            "first_window": _depths(first),
            "last_window": _depths(last),
            "max": max(s.depth for s in samples),
            "slope_per_s": round(trend.slope_per_s, 4),
            "growth_after_warm_up": round(trend.growth, 1),
            "margin": round(trend.margin),
        },
        "lag_ms": {
            "first_window": _window_lags(lag_ms(first)),
            "last_window": _window_lags(lag_ms(last)),
            "whole_run": _lags(lag_ms(samples)),
            "floor": LAG_FLOOR_MS,
        },
        "checks": [asdict(check) for check in checks],
        "passed": all(check.passed for check in checks),
        "timeline": [_point(s) for s in samples],
    }


def _depths(samples: Sequence[Sample]) -> dict[str, float | None]:
    """Mean and max depth over ``samples`` (None for no sample: JSON has no NaN)."""
    depths = [float(s.depth) for s in samples]
    return {"mean": round(mean(depths), 1) if depths else None, "max": max(depths, default=None)}


def _lags(timed: Timed) -> dict[str, float | None]:
    if not timed.samples:
        return {"n": 0, "p50": None, "p99": None}
    return {"n": len(timed.samples), "p50": round(timed.p50, 2), "p99": round(timed.percentile(99), 2)}


def _window_lags(timed: Timed) -> dict[str, float | str | None]:
    """_lags, and the tail the lag check compares (soak_checks.tail)."""
    if not timed.samples:
        return {**_lags(timed), "tail": None, "tail_quantile": None}
    return {**_lags(timed), "tail": round(tail(timed), 2), "tail_quantile": tail_name(timed)}


def _point(sample: Sample) -> dict[str, Any]:
    lags = _lags(Timed(samples=sample.lag_ms))
    return {
        "t": sample.t,
        "rss_mb": sample.rss_mb,
        "depth": sample.depth,
        "commands": sample.commands,
        "queries": sample.queries,
        "failures": sample.failures,
        "lag_n": lags["n"],
        "lag_p99_ms": lags["p99"] if lags["n"] else None,
    }


def table(doc: dict[str, Any]) -> str:
    facts, load, depths = doc["facts"], doc["load"], doc["queue_depth"]
    measured = facts["measured_commands_per_s"]
    offered = {k: facts[f"offered_{k}_per_s"] for k in ("commands", "queries")}
    run = (
        f"{facts['seconds']:g} s (warm-up {facts['warm_up_s']:g} s, windows of {facts['window_s']:g} s), "
        f"a sample every {facts['sample_every_s']:g} s, {facts['customers']:,} customers seeded"
    )
    slope = (
        f"{depths['slope_per_s']:+g} events/s ({depths['growth_after_warm_up']:+g} after warm-up; "
        f"margin {depths['margin']})"
    )
    rows = [
        ("run", run),
        ("the mix at 64 in flight (measured)", f"{measured}/s" if measured else "not measured (--rate)"),
        ("offered: commands / queries per s", f"{offered['commands']:g} / {offered['queries']:g}"),
        ("achieved: commands / queries per s", f"{load['commands_per_s']:g} / {load['queries_per_s']:g}"),
        ("command p50 / p99 ms", f"{load['command_p50_ms']:g} / {load['command_p99_ms']:g}"),
        ("commands accepted", ", ".join(f"{k} {v:,}" for k, v in sorted(load["accepted"].items()))),
        ("failed, timed out, shed", ", ".join(f"{k} {v}" for k, v in load["failures"].items()) or "none"),
        *((f"RSS MB, {service}", _rss(rss)) for service, rss in doc["rss_mb"].items()),
        *((f"queue depth mean / max, {w} window", _depth(depths[f"{w}_window"])) for w in ("first", "last")),
        ("queue depth slope", slope),
        *((f"lag ms p50 / p99, {w}", _lag(doc["lag_ms"][k])) for w, k in LAG_ROWS),
        *((f"CPU s, {name}", f"{seconds:g}") for name, seconds in facts["cpu_s"].items()),
    ]  # fmt: skip
    lines = [f"{name:<40} {value}" for name, value in rows]
    lines.append("")
    lines += [f"{'PASS' if c['passed'] else 'FAIL'}  {c['name']}: {c['detail']}" for c in doc["checks"]]
    lines.append("SOAK PASSED" if doc["passed"] else "SOAK FAILED")
    return "\n".join(lines)


LAG_ROWS = (("first window", "first_window"), ("last window", "last_window"), ("whole run", "whole_run"))


def _rss(rss: dict[str, float | None]) -> str:
    return (
        f"start {_g(rss['start'])} / after warm-up {_g(rss['after_warm_up'])} / "
        f"max last window {_g(rss['max_last_window'])} / end {_g(rss['end'])}"
    )


def _depth(depths: dict[str, float | None]) -> str:
    return f"{_g(depths['mean'])} / {_g(depths['max'])}"


def _lag(lags: dict[str, float | None]) -> str:
    return f"{_g(lags['p50'])} / {_g(lags['p99'])} (n {_g(lags['n'])})"


def _g(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def plot(doc: dict[str, Any], path: Path) -> None:
    """Three panels over time: each service's RSS, the event queues' depth, lag p99 per interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points, facts = doc["timeline"], doc["facts"]
    minutes = [p["t"] / 60 for p in points]
    figure, (memory, depths, lags) = plt.subplots(3, 1, figsize=(10, 9), sharex=True, constrained_layout=True)
    for service in doc["rss_mb"]:
        memory.plot(minutes, [p["rss_mb"][service] for p in points], label=service)
    memory.set_ylabel("resident memory, MB")
    memory.legend(fontsize=8)
    depths.plot(minutes, [p["depth"] for p in points], color="C2")
    depths.set_ylim(0, max(10, 1.1 * doc["queue_depth"]["max"]))
    depths.set_ylabel("event queue depth (ready)")
    lagged = [
        (m, p["lag_p99_ms"]) for m, p in zip(minutes, points, strict=True) if p["lag_p99_ms"] is not None
    ]
    lags.plot([m for m, _ in lagged], [v for _, v in lagged], color="C3", marker=".")
    lags.set_ylabel("lag p99 per interval, ms")
    lags.set_xlabel("minutes into the load")
    warm_up, window = facts["warm_up_s"] / 60, facts["window_s"] / 60
    end = facts["seconds"] / 60
    for axes in (memory, depths, lags):
        axes.axvspan(0, warm_up, color="grey", alpha=0.15)
        axes.axvspan(warm_up, warm_up + window, color="C0", alpha=0.07)
        axes.axvspan(end - window, end, color="C1", alpha=0.07)
    verdict = "passed" if doc["passed"] else "FAILED"
    memory.set_title(
        f"make soak, {facts['when']}: {facts['offered_commands_per_s']:g} commands/s + "
        f"{facts['offered_queries_per_s']:g} queries/s for {facts['seconds'] / 60:g} min, {verdict} "
        "(grey: warm-up; blue, orange: first and last window)",
        fontsize=9,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
