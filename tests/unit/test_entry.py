"""Each service's command line: `--help` explains and exits, anything else is refused; neither starts it."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("module", "setting"), [("command_service", "CQRS_POSTGRES_DSN"), ("query_service", "CQRS_MONGODB_URL")]
)
def test_help_lists_the_settings_and_does_not_start_the_service(module: str, setting: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    assert setting in done.stdout
    assert "CQRS_RETRY_ATTEMPTS" in done.stdout
    assert "service ready" not in done.stderr


def test_an_unknown_argument_is_refused() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "command_service", "--bogus"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "unrecognized arguments: --bogus" in done.stderr
