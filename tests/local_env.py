"""The local servers' settings (infra/local.env) as defaults, for what `make` runs without them:
`make bench`, `make bench-scale`, `make bench-keepup` (the broker URL has no default)."""

import os
import subprocess
from pathlib import Path

LOCAL_ENV = Path(__file__).resolve().parents[1] / "infra" / "local.env"


def use_local_servers() -> None:
    """Each CQRS_* variable of infra/local.env (as bash reads it) that this environment does not set."""
    done = subprocess.run(
        ["bash", "-c", 'set -a && . "$0" && env -0', str(LOCAL_ENV)],
        env={"HOME": os.environ.get("HOME", "/root"), **_state_dir()},
        capture_output=True,
        check=True,
    )
    for line in done.stdout.decode().split("\0"):
        name, _, value = line.partition("=")
        if name.startswith("CQRS_") and not os.environ.get(name):
            os.environ[name] = value


def _state_dir() -> dict[str, str]:
    return {name: os.environ[name] for name in ("CQRS_STATE_DIR", "XDG_CACHE_HOME") if name in os.environ}
