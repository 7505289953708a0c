"""`cqrs completion bash|zsh`: a script written from the parsers that the shell takes and that completes
verbs, options and the choices of an argument."""

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cqrs_shared.messaging import access


def script(shell: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "cqrs_shared.cli", "completion", shell],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def bash_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("completion") / "cqrs.bash"
    path.write_text(script("bash"))
    return path


def completed(bash_script: Path, line: str) -> list[str]:
    """What bash offers for the last word of ``line`` (an empty last word: ``line`` ends with a space)."""
    words = shlex.split(line) + ([""] if line.endswith(" ") else [])
    program = (
        f"source {shlex.quote(str(bash_script))}; COMP_WORDS=({' '.join(shlex.quote(w) for w in words)}); "
        f'COMP_CWORD={len(words) - 1}; _cqrs; printf "%s\\n" "${{COMPREPLY[@]}}"'
    )
    done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, timeout=30, check=True)
    return [word for word in done.stdout.splitlines() if word]


def test_the_bash_script_is_valid_bash(bash_script: Path) -> None:
    done = subprocess.run(["bash", "-n", str(bash_script)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "complete -F _cqrs cqrs" in bash_script.read_text()


def test_bash_completes_areas_verbs_and_options(bash_script: Path) -> None:
    assert completed(bash_script, "cqrs cu") == ["customer"]
    assert completed(bash_script, "cqrs --json customer cr") == ["create"]
    assert completed(bash_script, "cqrs --timeout 5 account w") == ["withdraw"]
    assert completed(bash_script, "cqrs customer create --loc") == ["--locale"]
    assert "--reference" in completed(bash_script, "cqrs account deposit ID 1.00 --")


def test_bash_completes_an_arguments_choices_and_not_an_options_value(bash_script: Path) -> None:
    assert completed(bash_script, "cqrs broker grant ") == list(access.GRANTABLE)
    assert completed(bash_script, "cqrs broker grant --vhost v cl") == ["client"]
    assert completed(bash_script, "cqrs completion z") == ["zsh"]
    assert completed(bash_script, "cqrs customer create --name ") == []


def test_the_zsh_script_loads_the_bash_one_through_bashcompinit() -> None:
    text = script("zsh")
    assert "bashcompinit" in text
    assert "complete -F _cqrs cqrs" in text
    if shutil.which("zsh") is not None:  # not on every machine; bash is
        done = subprocess.run(["zsh", "-n"], input=text, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
