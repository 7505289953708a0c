"""The typed client and the `cqrs` command line install wherever Python runs: every dependency of
cqrs-shared has a wheel for Windows and macOS (uvloop only where it ships one). Resolved against PyPI
with uv, for platforms other than this one; nothing is imported or run on them (that cannot be done
here)."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.pair import ROOT

PLATFORMS = ["x86_64-pc-windows-msvc", "aarch64-apple-darwin", "x86_64-apple-darwin"]


def uv(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["uv", *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def wheel_and_requirements(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], Path]:
    out = tmp_path_factory.mktemp("dist")
    for package in ("cqrs-pair-contracts", "cqrs-pair-client", "cqrs-shared"):
        built = uv("build", "--quiet", "--package", package, "--wheel", "-o", str(out))
        assert built.returncode == 0, built.stderr
    exported = uv(
        "export", "--frozen", "--package", "cqrs-shared", "--no-dev", "--no-hashes", "--no-emit-workspace"
    )
    assert exported.returncode == 0, exported.stderr
    requirements = out / "requirements.txt"
    requirements.write_text(exported.stdout)
    wheels = sorted(out.glob("*.whl"))
    assert len(wheels) == 3, wheels
    return wheels, requirements


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_client_installs_from_wheels_only(
    platform: str, wheel_and_requirements: tuple[list[Path], Path], tmp_path: Path
) -> None:
    wheels, requirements = wheel_and_requirements
    target = tmp_path / "site-packages"
    installed = uv(
        "pip", "install", "--quiet", "--python-platform", platform,
        "--python-version", f"{sys.version_info.major}.{sys.version_info.minor}",
        "--only-binary", ":all:", "--target", str(target), "-r", str(requirements), *map(str, wheels),
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    names = {path.name.split("-")[0].lower() for path in target.iterdir()}
    assert {"cqrs_contracts", "cqrs_client", "cqrs_shared", "aio_pika", "pydantic", "aiohttp"} <= names
    assert ("uvloop" in names) is (not platform.endswith("windows-msvc"))
