"""What a run prints, writes (JSON) and draws (PNG): every figure beside its ratio to the ceiling."""

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.timing import Timed

CEILING = "echo, raw aio-pika (the ceiling)"


@dataclass
class Figure:
    scenario: str
    in_flight: int
    n: int
    per_s: float
    p50_ms: float
    p99_ms: float
    ratio: float | None = None  # per_s ÷ the ceiling's per_s at the same in_flight, this run
    cpu_s_per_1000: dict[str, float] = field(default_factory=dict)  # CPU s per 1,000 operations
    note: str = ""

    @classmethod
    def of(cls, scenario: str, in_flight: int, timed: Timed, cpu: dict[str, float]) -> "Figure":
        per_thousand = {
            name: round(1000 * seconds / max(1, len(timed.samples)), 3) for name, seconds in cpu.items()
        }
        return cls(
            scenario,
            in_flight,
            len(timed.samples),
            round(timed.per_s, 1),
            round(timed.p50 * 1000, 2),
            round(timed.percentile(99) * 1000, 2),
            cpu_s_per_1000={k: v for k, v in per_thousand.items() if v > 0},
        )


@dataclass
class Run:
    figures: list[Figure] = field(default_factory=list)
    memory_mb: dict[str, float] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)

    def add(self, figure: Figure) -> Figure:
        ceiling = next(
            (f for f in self.figures if f.scenario == CEILING and f.in_flight == figure.in_flight), None
        )
        if figure.scenario == CEILING:
            figure.ratio = 1.0
        elif ceiling is not None and ceiling.per_s and not figure.scenario.startswith("lag"):
            figure.ratio = round(figure.per_s / ceiling.per_s, 3)
        self.figures.append(figure)
        return figure

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "facts": self.facts,
            "figures": [asdict(f) for f in self.figures],
            "memory_mb": self.memory_mb,
        }
        path.write_text(json.dumps(document, indent=2) + "\n")


def row(figure: Figure) -> str:
    ratio = "" if figure.ratio is None else f"{figure.ratio:.2f}"
    return (
        f"{figure.scenario:<44} {figure.in_flight:>3} {figure.n:>6} {figure.per_s:>8,.0f} {ratio:>6}"
        f" {figure.p50_ms:>8.2f} {figure.p99_ms:>8.2f}  {figure.note}"
    )


HEADER = f"{'scenario':<44} {'in':>3} {'n':>6} {'ops/s':>8} {'ratio':>6} {'p50 ms':>8} {'p99 ms':>8}"


def table(run: Run) -> str:
    lines = [HEADER, *(row(f) for f in run.figures)]
    groups = sorted({g for f in run.figures for g in f.cpu_s_per_1000})
    lines += ["", "CPU seconds per 1,000 operations, at the highest in-flight count measured:"]
    lines.append(f"{'scenario':<44} " + " ".join(f"{g[:10]:>10}" for g in groups))
    top = max((f.in_flight for f in run.figures), default=0)
    for f in run.figures:
        if f.in_flight == top or f.scenario.startswith("lag"):
            lines.append(
                f"{f.scenario:<44} " + " ".join(f"{f.cpu_s_per_1000.get(g, 0):>10.3f}" for g in groups)
            )
    lines += [
        "",
        "resident memory at the end: " + ", ".join(f"{k} {v:.0f} MB" for k, v in run.memory_mb.items()),
    ]
    return "\n".join(lines)


def plot(run: Run, path: Path) -> None:
    """Ratios to the ceiling (bars, by in-flight count) and p50/p99 latency, one picture."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenarios = [s for s in dict.fromkeys(f.scenario for f in run.figures) if not s.startswith("lag")]
    levels = sorted({f.in_flight for f in run.figures if f.in_flight > 0})
    figure, (ratios, latency) = plt.subplots(2, 1, figsize=(11, 9), constrained_layout=True)
    width = 0.8 / max(1, len(levels))
    for i, level in enumerate(levels):
        values = [_find(run, s, level, "ratio") for s in scenarios]
        xs = [x + i * width for x in range(len(scenarios))]
        ratios.bar(xs, values, width, label=f"{level} in flight")
        p50 = [_find(run, s, level, "p50_ms") for s in scenarios]
        p99 = [_find(run, s, level, "p99_ms") for s in scenarios]
        latency.bar(xs, p99, width, alpha=0.35, color=f"C{i}")
        latency.bar(xs, p50, width, color=f"C{i}", label=f"{level} in flight (p50; p99 faded)")
    for axes in (ratios, latency):
        axes.set_xticks([x + width * (len(levels) - 1) / 2 for x in range(len(scenarios))])
        axes.set_xticklabels([_short(s) for s in scenarios], rotation=20, ha="right", fontsize=8)
        axes.legend(fontsize=8)
    ratios.set_ylabel("throughput ÷ raw echo, same run")
    ratios.axhline(1.0, color="grey", linewidth=0.8)
    latency.set_ylabel("latency, ms (log)")
    latency.set_yscale("log")
    for lag in (f for f in run.figures if f.scenario.startswith("lag")):
        latency.text(
            0.99, 0.97, f"{lag.scenario}: p50 {lag.p50_ms:g} ms, p99 {lag.p99_ms:g} ms",
            transform=latency.transAxes, ha="right", va="top", fontsize=8,
        )  # fmt: skip
    facts = run.facts
    ratios.set_title(f"make bench, {facts.get('when', '')}: {facts.get('machine', '')}", fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _find(run: Run, scenario: str, level: int, what: str) -> float:
    for f in run.figures:
        if f.scenario == scenario and f.in_flight == level:
            value = getattr(f, what)
            return 0.0 if value is None else float(value)
    return math.nan


def _short(scenario: str) -> str:
    return scenario.replace(" (the ceiling)", "").replace("customers", "cust.")
