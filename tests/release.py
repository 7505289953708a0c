"""An earlier release of the pair, built from this repository's history, for rolling-upgrade tests.

python = release(PREVIOUS_RELEASE)   # its interpreter, with its services installed
"""

import os
import shutil
import subprocess
from pathlib import Path

from tests.pair import ROOT

# The last release before events had schema versions (issue 10): strict readers, schema_version 1 only.
PREVIOUS_RELEASE = "e73571c795df73447e274f4b55334f55d85f3322"
STATE = Path(os.environ.get("CQRS_STATE_DIR") or Path.home() / ".cache" / "cqrs-pair")


def release(commit: str) -> Path:
    """The Python of ``commit``'s environment, built once (git archive + uv sync) and kept."""
    home = STATE / "releases" / commit
    python = home / ".venv" / "bin" / "python"
    built = home / ".built"
    if built.exists():
        return python
    _have(commit)
    # Built where it stays: uv installs the workspace's own packages by path.
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(home)], input=archive.stdout, check=True)
    clean = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV" and not k.startswith("UV_PROJECT")}
    subprocess.run(
        ["uv", "sync", "--frozen", "--no-dev", "--quiet"], cwd=home, env=clean, check=True, timeout=600
    )
    built.touch()
    return python


def _have(commit: str) -> None:
    """``commit`` in this clone; a shallow clone fetches its history first."""
    if _present(commit):
        return
    subprocess.run(["git", "-C", str(ROOT), "fetch", "--quiet", "--unshallow"], check=False, timeout=300)
    if not _present(commit):
        raise AssertionError(f"release {commit} is not in this clone's history: a rolling upgrade needs it")


def _present(commit: str) -> bool:
    found = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{commit}^{{commit}}"], check=False)
    return found.returncode == 0
