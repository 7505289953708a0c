"""`cqrs` tells failures apart by exit code (cli/exits.py), prints each with --json in one shape, and
honours --timeout and --json wherever it offers them. No broker: a socket that never answers stands in."""

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cqrs_shared.cli.exits import EXIT_CONFIGURATION, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE

PASSWORDS = {
    f"CQRS_RABBITMQ_{role}_PASSWORD": role.lower() for role in ("ADMIN", "COMMAND", "QUERY", "CLIENT")
}
# The default --timeout is 10 s: a verb that honours --timeout 0.5 ends well within this.
WELL_WITHIN_SECONDS = 6.0


def environment(**given: str) -> dict[str, str]:
    """This process's environment without any CQRS_ setting, plus ``given``."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("CQRS_")}, **given}


def cqrs(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cqrs_shared.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def error_document(stdout: str) -> dict[str, Any]:
    """The one JSON error shape: {"status", "error": {"code", "message", "fields"}}."""
    document: dict[str, Any] = json.loads(stdout)
    assert set(document) == {"status", "error"}, document
    assert document["status"] in ("rejected", "error")
    assert set(document["error"]) == {"code", "message", "fields"}
    return document


@pytest.fixture
def silent() -> Iterator[int]:
    """A port that takes connections and never says a word: a hung broker, a hung service."""
    with socket.create_server(("127.0.0.1", 0), backlog=16) as server:
        yield server.getsockname()[1]


def test_a_missing_broker_url_is_a_configuration_error_in_one_line() -> None:
    done = cqrs("customer", "get", "00000000-0000-4000-8000-000000000000", env=environment())
    assert done.returncode == EXIT_CONFIGURATION
    assert done.stderr == "configuration error: CQRS_RABBITMQ_URL: not set (required)\n"
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("given", "named"),
    [
        (
            {"CQRS_RABBITMQ_URL": "http://nowhere"},
            "CQRS_RABBITMQ_URL: URL scheme should be 'amqp' or 'amqps'",
        ),
        (
            {"CQRS_RABBITMQ_URL_FILE": "/nonexistent/url"},
            "CQRS_RABBITMQ_URL_FILE: cannot read /nonexistent/url",
        ),
        (
            {"CQRS_RABBITMQ_URL": "amqp://a@h/v", "CQRS_RABBITMQ_URL_FILE": "/x"},
            "CQRS_RABBITMQ_URL is set too",
        ),
    ],
)
def test_an_invalid_broker_url_is_a_configuration_error_as_json_too(
    given: dict[str, str], named: str
) -> None:
    done = cqrs("--json", "status", env=environment(**given))
    assert done.returncode == EXIT_CONFIGURATION, done.stderr
    assert "Traceback" not in done.stderr
    document = error_document(done.stdout)
    assert (document["status"], document["error"]["code"]) == ("error", "configuration_error")
    assert named in document["error"]["message"]


def test_a_usage_error_exits_2_and_says_so_as_json_too() -> None:
    done = cqrs("--json", "customer", "create", "--name", "Ada", env=environment())
    assert done.returncode == EXIT_USAGE
    assert "the following arguments are required: --locale" in done.stderr
    document = error_document(done.stdout)
    assert document["error"]["code"] == "usage_error"
    assert document["error"]["message"].startswith("cqrs customer create: ")


def test_broker_grant_prints_its_commands_as_a_json_list() -> None:
    done = cqrs("broker", "grant", "client", "teller", "--json", env=environment())
    assert done.returncode == EXIT_OK, done.stderr
    commands = json.loads(done.stdout)
    assert commands[0] == ["rabbitmqctl", "set_user_tags", "teller"]
    assert all(command[0] == "rabbitmqctl" for command in commands)


def test_broker_definitions_as_json_and_its_failure_in_the_one_shape(tmp_path: Path) -> None:
    printed = cqrs("--json", "broker", "definitions", "--out", "-", env=environment(**PASSWORDS))
    assert printed.returncode == EXIT_OK, printed.stderr
    assert {user["name"] for user in json.loads(printed.stdout)["users"]} >= {"cqrs-admin", "cqrs-client"}
    out = tmp_path / "definitions.json"
    written = cqrs("--json", "broker", "definitions", "--out", str(out), env=environment(**PASSWORDS))
    assert json.loads(written.stdout) == {"out": str(out)}
    assert json.loads(out.read_text())["vhosts"]
    refused = cqrs("broker", "definitions", "--out", "-", "--json", env=environment())
    assert refused.returncode == EXIT_CONFIGURATION
    assert "CQRS_RABBITMQ_" in error_document(refused.stdout)["error"]["message"]


@pytest.mark.parametrize("verb", [["dlq", "list"], ["dlq", "show", "m-1"], ["customer", "preferred"]])
def test_timeout_bounds_the_wait_for_a_broker_that_does_not_answer(silent: int, verb: list[str]) -> None:
    env = environment(CQRS_RABBITMQ_URL=f"amqp://u:p@127.0.0.1:{silent}/v")
    started = time.monotonic()
    done = cqrs("--json", "--timeout", "0.5", *verb, env=env)
    assert time.monotonic() - started < WELL_WITHIN_SECONDS
    assert done.returncode == EXIT_UNAVAILABLE, done.stdout + done.stderr
    assert error_document(done.stdout)["error"]["code"] == "broker_unavailable"


def test_status_timeout_bounds_the_wait_for_the_broker_and_the_services(silent: int) -> None:
    here = f"127.0.0.1:{silent}"
    env = environment(
        CQRS_RABBITMQ_URL=f"amqp://u:p@{here}/v",
        CQRS_COMMAND_HTTP_URL=f"http://{here}",
        CQRS_QUERY_HTTP_URL=f"http://{here}",
    )
    started = time.monotonic()
    done = cqrs("status", "--timeout", "0.5", "--json", env=env)
    assert time.monotonic() - started < WELL_WITHIN_SECONDS
    assert done.returncode == EXIT_UNAVAILABLE, done.stdout + done.stderr
    status = json.loads(done.stdout)
    assert status["broker"]["ok"] is False
    assert [service["state"] for service in status["services"]] == ["unreachable", "unreachable"]
