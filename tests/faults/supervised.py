"""`make run` (infra/run.sh) as the subject of a test: in its own process group, with its log.

with make_run(env, log_path) as run:
    await run.ready()                 # both services said "ready"
    run.services("query-service")     # pids of the services it runs now
"""

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.masked import masked
from tests.pair import ROOT, http_ports
from tests.waiting import until


@dataclass
class MakeRun:
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def started(self, service: str) -> int:
        """How many times ``service`` ("query", "command") has said it is ready."""
        return self.output().count(f"{service} service ready")

    async def ready(self, times: int = 1, timeout: float = 60) -> None:
        async def both() -> bool:
            return self.started("command") >= 1 and self.started("query") >= times

        await until(both, timeout=timeout, what=f"make run's services:\n{self.output()}")

    def services(self, program: str = "service") -> list[int]:
        found = subprocess.run(
            ["pgrep", "-P", str(self.process.pid), "-f", program], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in found.stdout.split()]


@contextlib.contextmanager
def make_run(env: dict[str, str], log: Path) -> Iterator[MakeRun]:
    """Start `bash infra/run.sh`; whatever happens, nothing it started outlives the block."""
    with log.open("wb") as sink:
        process = subprocess.Popen(
            ["bash", "infra/run.sh"],
            env={**env, **http_ports()},
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=masked,
        )
    try:
        yield MakeRun(process, log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
