"""`make run` supervises the pair: a service that dies is started again; one that cannot start ends it."""

import asyncio
import contextlib
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.pair import ROOT, Pair
from tests.waiting import until

pytestmark = pytest.mark.faults


def run_script(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(
            ["bash", "infra/run.sh"],
            env=env,
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so that nothing outlives the test
        )


def children(parent: int, program: str) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(parent), "-f", program], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_a_killed_service_is_started_again_and_ctrl_c_stops_both(pair: Pair) -> None:
    log = pair.log_dir / "run-restart.log"
    run = run_script({**pair.env, "CQRS_RUN_MIN_UPTIME": "1"}, log)
    try:

        async def ready(times: int) -> bool:
            return log.read_text().count("query service ready") >= times and "command service ready" in (
                log.read_text()
            )

        await until(lambda: ready(1), timeout=60, what="both services of make run")
        await asyncio.sleep(2)  # past CQRS_RUN_MIN_UPTIME (whole seconds): a crash, not a failed start
        [first] = children(run.pid, "query-service")
        os.kill(first, signal.SIGKILL)
        await until(lambda: ready(2), timeout=60, what="the killed query service to be started again")
        assert "query-service exited with status 137; starting it again" in log.read_text()
        [second] = children(run.pid, "query-service")
        assert second != first
        services = children(run.pid, "service")
        assert len(services) == 2
        run.send_signal(signal.SIGINT)
        assert run.wait(timeout=60) == 0, log.read_text()
        assert [pid for pid in services if alive(pid)] == []
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)
        run.wait()


async def test_a_service_that_cannot_start_ends_the_run_with_its_reason(pair: Pair) -> None:
    log = pair.log_dir / "run-bad-settings.log"
    run = run_script({**pair.env, "CQRS_PREFETCH": "many"}, log)
    try:
        status = run.wait(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)
    output = log.read_text()
    assert status != 0, output
    assert "CQRS_PREFETCH" in output
    assert "of starting; stopping" in output
