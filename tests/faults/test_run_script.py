"""`make run` supervises the pair: a service that dies is started again; one that cannot start ends it."""

import asyncio
import os
import signal

from tests.faults.supervised import make_run
from tests.pair import Pair


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_a_killed_service_is_started_again_and_ctrl_c_stops_both(pair: Pair) -> None:
    with make_run({**pair.env, "CQRS_RUN_MIN_UPTIME": "1"}, pair.log_dir / "run-restart.log") as run:
        await run.ready()
        await asyncio.sleep(2)  # past CQRS_RUN_MIN_UPTIME (whole seconds): a crash, not a failed start
        [first] = run.services("query-service")
        os.kill(first, signal.SIGKILL)
        await run.ready(times=2)
        assert "query-service exited with status 137 (killed by SIGKILL); starting it again" in run.output()
        [second] = run.services("query-service")
        assert second != first
        services = run.services()
        assert len(services) == 2
        run.process.send_signal(signal.SIGINT)
        assert run.process.wait(timeout=60) == 0, run.output()
        assert [pid for pid in services if alive(pid)] == []


async def test_a_service_that_cannot_start_ends_the_run_with_its_reason(pair: Pair) -> None:
    with make_run({**pair.env, "CQRS_PREFETCH": "many"}, pair.log_dir / "run-bad-settings.log") as run:
        status = run.process.wait(timeout=60)
        output = run.output()
    assert status != 0, output
    assert "CQRS_PREFETCH" in output
    assert "of starting; stopping" in output
