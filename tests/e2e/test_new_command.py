"""Adding a command is one type-checked change: in a copy of the project, a throw-away command added
to its aggregate's union and to nothing else is caught by mypy at the decider, and `make unit` names
every other place it must go (docs/code.md: Where to change what)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.pair import ROOT

THROW_AWAY = """

class FreezeCustomer(Contract):
    type: Literal["FreezeCustomer"] = "FreezeCustomer"
    customer_id: UUID
"""
UNION = (
    "CustomerCommand = CreateCustomer | MakeCustomerPreferred | ChangeCustomerLocale | EditCustomerDetails"
)
SOURCES = (
    "packages/contracts/src",
    "packages/client/src",
    "shared/src",
    "services/command/src",
    "services/query/src",
)


def copy_of_the_project(to: Path) -> Path:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    for name in listed.stdout.split():
        if (ROOT / name).is_file():
            (to / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, to / name)
    return to


def run(copy: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A tool of this environment on the copy's code: its sources first on every search path."""
    paths = os.pathsep.join(str(copy / source) for source in SOURCES)
    env = {**os.environ, "PYTHONPATH": f"{copy}{os.pathsep}{paths}", "MYPYPATH": paths}
    return subprocess.run(
        [sys.executable, *args], cwd=copy, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def test_a_command_added_to_a_union_alone_fails_mypy_at_the_decider_and_the_tests_name_the_rest(
    tmp_path: Path,
) -> None:
    copy = copy_of_the_project(tmp_path / "copy")
    commands = copy / "packages/contracts/src/cqrs_contracts/commands.py"
    source = commands.read_text()
    assert UNION in source
    source = source.replace(UNION, THROW_AWAY.strip() + "\n\n\n" + UNION + " | FreezeCustomer")
    commands.write_text(source)

    typed = run(copy, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy"), "-p", "command_service")
    errors = [line for line in typed.stdout.splitlines() if ": error:" in line]
    assert typed.returncode == 1, typed.stdout + typed.stderr
    assert len(errors) == 1, errors
    assert "command_service/domain/customer.py" in errors[0], errors
    assert "assert_never" in errors[0], errors

    unit = run(copy, "-m", "pytest", "tests/unit", "-q", "-p", "no:cacheprovider", "-W", "ignore")
    failed = sorted(set(re.findall(r"^FAILED (tests/unit/\S+?)::", unit.stdout, re.M)))
    assert failed == [
        "tests/unit/test_access.py",  # docs/security.md: the listing of the client's topic permissions
        "tests/unit/test_asyncapi.py",  # docs/asyncapi.json: make asyncapi
        "tests/unit/test_routes.py",  # command_service/routes.py
    ], unit.stdout[-3000:]
