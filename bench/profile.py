"""`make bench BENCH_ARGS="--profile DIR"`: py-spy samples each service, and the benchmark's own
process (the client), while a figure is measured.

For each pair scenario at the highest in-flight count, DIR gets <scenario>.<service>.txt: py-spy's
collapsed stacks ("frame;frame;... count", flamegraph.pl's input), and a summary: the functions with
the most samples on the CPU, by self time and including what they call.
"""

import asyncio
import re
import shutil
import sys
from collections import Counter
from pathlib import Path

RATE = 250  # samples per second


async def record(pid: int, seconds: float, out: Path) -> None:
    """Sample ``pid`` for ``seconds`` (py-spy, idle threads left out) into ``out``."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    process = await asyncio.create_subprocess_exec(
        spy, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))), "--rate", str(RATE),
        "--format", "raw", "--output", str(out), "--nonblocking",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    await asyncio.wait_for(process.wait(), seconds + 30)


def _frame(frame: str) -> str:
    """``function (path/to/module.py:12)`` as ``module.py:function``."""
    match = re.match(r"(.+?) \((?:.*/)?([^/]+?):\d+\)", frame)
    return f"{match[2]}:{match[1]}" if match else frame


def summary(raw: Path, top: int = 25) -> str:
    own: Counter[str] = Counter()
    within: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = [_frame(f) for f in stack.split(";") if f and not f.startswith("process ")]
        total += int(count)
        if frames:
            own[frames[-1]] += int(count)
        for frame in set(frames):
            within[frame] += int(count)
    lines = [f"{total} samples on the CPU", "", "self %   function"]
    lines += [f"{100 * n / total:6.1f}   {name}" for name, n in own.most_common(top)]
    lines += ["", "total %  function (with what it calls)"]
    lines += [f"{100 * n / total:6.1f}   {name}" for name, n in within.most_common(top)]
    return "\n".join(lines) + "\n"
