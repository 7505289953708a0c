"""A program the tests run (an example, say), its stdout read as JSON lines as they come; stopped
with SIGTERM on leaving, killed if it does not stop.

async with program([sys.executable, "subscriber.py"], env, log_dir / "subscriber.log") as run:
    ready = await run.line(lambda line: "ready" in line)    # waits, bounded
    assert await run.stop() == 0
"""

import asyncio
import json
import signal
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.masked import masked
from tests.pair import ROOT

Line = dict[str, Any]
STOP_SECONDS = 15.0


@dataclass
class Program:
    process: asyncio.subprocess.Process
    stderr: Path
    lines: list[Line] = field(default_factory=list)
    others: list[str] = field(default_factory=list)  # stdout lines that are no JSON object

    async def line(self, wanted: Callable[[Line], bool], timeout: float = 20.0, what: str = "a line") -> Line:
        """The first line (of all it printed so far, and what follows) that is ``wanted``."""
        async with asyncio.timeout(timeout):
            while True:
                found = next((line for line in self.lines if wanted(line)), None)
                if found is not None:
                    return found
                if self.process.returncode is not None:
                    break
                await asyncio.sleep(0.02)
        raise AssertionError(f"the program ended without {what}:\n{self.output()}")

    def output(self) -> str:
        printed = [json.dumps(line) for line in self.lines] + self.others
        return "\n".join(printed) + "\n--- stderr ---\n" + self.stderr.read_text(errors="replace")

    async def stop(self) -> int:
        """SIGTERM; its exit status (killed after STOP_SECONDS: a negative one)."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(STOP_SECONDS):
                return await self.process.wait()
        except TimeoutError:
            self.process.kill()
            return await self.process.wait()

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            text = raw.decode(errors="replace").strip()
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                self.lines.append(parsed)
            elif text:
                self.others.append(text)


@asynccontextmanager
async def program(args: Sequence[str], env: Mapping[str, str], stderr: Path) -> AsyncIterator[Program]:
    with stderr.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            *args,
            env=dict(env),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=sink,
            preexec_fn=masked,
        )
    running = Program(process, stderr)
    reader = asyncio.create_task(running._read())
    try:
        yield running
    finally:
        await running.stop()
        with suppress(TimeoutError):
            async with asyncio.timeout(STOP_SECONDS):
                await reader
        reader.cancel()
