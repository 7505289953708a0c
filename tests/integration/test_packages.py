"""The contracts and the client install into an empty environment on their own: wheels built from
this workspace, their dependencies from the package index, nothing of the services' (no
OpenTelemetry SDK, prometheus-client, aiohttp, pydantic-settings, uvloop)."""

import json
import subprocess
import sys
from pathlib import Path

from tests.pair import ROOT

SERVICES_ONLY = {
    "opentelemetry-sdk",
    "prometheus-client",
    "aiohttp",
    "pydantic-settings",
    "uvloop",
    "asyncpg",
    "pymongo",
}
MAX_MB = 25  # measured: see docs/client.md (about 14 packages)


def run(*command: str | Path, cwd: Path = ROOT) -> str:
    done = subprocess.run(
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def installed_bytes(venv: Path) -> int:
    site = next(venv.glob("lib/python3*/site-packages"))
    return sum(path.stat().st_size for path in site.rglob("*") if path.is_file())


def test_the_contracts_and_the_client_install_alone_and_work(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    for package in ("cqrs-pair-contracts", "cqrs-pair-client"):
        run("uv", "build", "--package", package, "--wheel", "--out-dir", dist)
    wheels = sorted(dist.glob("*.whl"))
    assert [wheel.name.split("-")[0] for wheel in wheels] == ["cqrs_pair_client", "cqrs_pair_contracts"]

    venv = tmp_path / "venv"
    run("uv", "venv", "--quiet", "--python", sys.executable, venv)
    python = venv / "bin" / "python"
    run("uv", "pip", "install", "--quiet", "--python", python, *wheels)
    names = {
        item["name"] for item in json.loads(run("uv", "pip", "list", "--python", python, "--format", "json"))
    }
    assert not names & SERVICES_ONLY, names & SERVICES_ONLY
    assert "cqrs-shared" not in names
    megabytes = installed_bytes(venv) / 1e6
    print(f"\ncqrs-pair-client with its dependencies: {len(names)} packages, {megabytes:.1f} MB installed")
    assert megabytes < MAX_MB

    # The fake keeps the contract without a broker: a command, its reply, the same reply again.
    program = """
import asyncio
from uuid import uuid4
from cqrs_client import CqrsClient, raise_for_rejection
from cqrs_client.fake import FakeClient
from cqrs_contracts import CUSTOMER, CreateCustomer

async def main() -> None:
    fake = FakeClient()
    fake.on(CreateCustomer, lambda command: fake.accepted(CUSTOMER, command.customer_id or uuid4()))
    command_id = uuid4()
    command = CreateCustomer(name="Ada", locale="en")
    first = raise_for_rejection(await fake.send(command, command_id=command_id))
    again = await fake.send(command, command_id=command_id)
    print(first == again, first.version, CqrsClient.__name__)

asyncio.run(main())
"""
    assert run(python, "-c", program).split() == ["True", "1", "CqrsClient"]

    contracts_only = tmp_path / "contracts-only"
    run("uv", "venv", "--quiet", "--python", sys.executable, contracts_only)
    only = contracts_only / "bin" / "python"
    run("uv", "pip", "install", "--quiet", "--python", only, *(w for w in wheels if "contracts" in w.name))
    names = {
        item["name"] for item in json.loads(run("uv", "pip", "list", "--python", only, "--format", "json"))
    }
    assert names <= {
        "cqrs-pair-contracts",
        "pydantic",
        "pydantic-core",
        "annotated-types",
        "typing-extensions",
        "typing-inspection",
    }, names
    megabytes = installed_bytes(contracts_only) / 1e6
    print(f"cqrs-pair-contracts with its dependencies: {len(names)} packages, {megabytes:.1f} MB")
    assert (
        run(
            only, "-c", "from cqrs_contracts import EventEnvelope, GetCustomer; print(GetCustomer.__name__)"
        ).strip()
        == "GetCustomer"
    )
