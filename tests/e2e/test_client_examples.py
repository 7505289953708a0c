"""The client's example (examples/client_quickstart.py), the one README.md and docs/client.md show,
runs against the pair and does what it says; it is type-checked with the rest (make lint)."""

import subprocess
import sys

from tests.pair import ROOT, Pair

QUICKSTART = ROOT / "examples" / "client_quickstart.py"


def test_the_quickstart_creates_a_customer_and_reads_it_back(pair: Pair) -> None:
    env = {**pair.env, "CQRS_RABBITMQ_URL": pair.env["CQRS_RABBITMQ_URL"]}
    done = subprocess.run(
        [sys.executable, str(QUICKSTART)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Ada Lovelace (en-GB) is customer "), done.stdout
    assert done.stdout.rstrip().endswith("at version 1"), done.stdout


def test_the_readme_and_the_client_page_show_the_quickstart_as_it_is() -> None:
    """Their Python is the example file itself, which mypy checks and the test above runs: the
    README holds its code verbatim, the docs page includes the file (pymdownx.snippets)."""
    example = QUICKSTART.read_text()
    assert example[example.index("import asyncio") :].strip() in (ROOT / "README.md").read_text()
    assert '--8<-- "examples/client_quickstart.py"' in (ROOT / "docs" / "client.md").read_text()
