"""A secret may come from a file (CQRS_<NAME>_FILE); no secret is ever shown, not even in an error."""

import subprocess
import sys
from pathlib import Path

import pytest

from command_service.settings import CommandSettings
from cqrs_client.redaction import redact
from cqrs_shared.runtime.settings import BrokerSettings, load
from query_service.settings import QuerySettings

SECRET = "S3cretFromAFile"
URL = f"postgresql://cqrs_command:{SECRET}@127.0.0.1:5432/cqrs?sslmode=require"


@pytest.fixture(autouse=True)
def no_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    """None of the URLs set, but a broker's (it may have no default); a test gives what it needs."""
    for name in ("RABBITMQ_URL", "POSTGRES_DSN", "MONGODB_URL"):
        monkeypatch.delenv(f"CQRS_{name}", raising=False)
        monkeypatch.delenv(f"CQRS_{name}_FILE", raising=False)
    monkeypatch.setenv("CQRS_RABBITMQ_URL", "amqp://cqrs-command:cqrs-command@127.0.0.1:5672/cqrs")


def stopped(kind: type[BrokerSettings], capsys: pytest.CaptureFixture[str]) -> str:
    """What ``load`` printed when it stopped the process (status 2)."""
    with pytest.raises(SystemExit) as exit_:
        load(kind)
    assert exit_.value.code == 2
    return capsys.readouterr().err


def test_each_url_may_come_from_a_file_without_its_trailing_newline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    files = {
        "CQRS_POSTGRES_DSN_FILE": URL + "\n",
        "CQRS_RABBITMQ_URL_FILE": f"amqps://cqrs:{SECRET}@127.0.0.1:5671/v?cafile=/ca.pem\r\n",
        "CQRS_MONGODB_URL_FILE": f"mongodb://ferretdb:{SECRET}@127.0.0.1:27017/?authMechanism=PLAIN",
    }
    monkeypatch.delenv("CQRS_RABBITMQ_URL")
    for variable, content in files.items():
        (tmp_path / variable).write_text(content)
        monkeypatch.setenv(variable, str(tmp_path / variable))
    command, query = load(CommandSettings), load(QuerySettings)
    assert str(command.postgres_dsn) == URL
    assert str(command.rabbitmq_url) == f"amqps://cqrs:{SECRET}@127.0.0.1:5671/v?cafile=/ca.pem"
    assert str(query.mongodb_url) == files["CQRS_MONGODB_URL_FILE"]


def test_an_empty_file_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CQRS_POSTGRES_DSN_FILE", "")
    monkeypatch.setenv("CQRS_POSTGRES_DSN", URL)
    assert str(load(CommandSettings).postgres_dsn) == URL


def test_a_secret_given_both_ways_stops_start_up(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "dsn").write_text(URL)
    monkeypatch.setenv("CQRS_POSTGRES_DSN_FILE", str(tmp_path / "dsn"))
    monkeypatch.setenv("CQRS_POSTGRES_DSN", URL)
    error = stopped(CommandSettings, capsys)
    assert "CQRS_POSTGRES_DSN_FILE: CQRS_POSTGRES_DSN is set too" in error
    assert SECRET not in error


@pytest.mark.parametrize("problem", ["missing", "directory", "empty", "binary"])
def test_an_unusable_file_stops_start_up_naming_the_variable_not_the_content(
    problem: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "secret"
    if problem == "directory":
        path.mkdir()
    elif problem == "empty":
        path.write_text("\n")
    elif problem == "binary":
        path.write_bytes(SECRET.encode() + b"\xff\xfe")
    monkeypatch.delenv("CQRS_RABBITMQ_URL")
    monkeypatch.setenv("CQRS_RABBITMQ_URL_FILE", str(path))
    error = stopped(BrokerSettings, capsys)
    assert error.startswith("configuration error: CQRS_RABBITMQ_URL_FILE: ")
    assert str(path) in error
    assert SECRET not in error


def test_a_malformed_url_in_a_file_is_named_by_its_file_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "url").write_text(f"not a url {SECRET}\n")
    monkeypatch.setenv("CQRS_MONGODB_URL_FILE", str(tmp_path / "url"))
    error = stopped(QuerySettings, capsys)
    assert error.startswith("configuration error: CQRS_MONGODB_URL_FILE: ")
    assert SECRET not in error


def test_other_settings_have_no_file_variant(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "prefetch").write_text("7")
    monkeypatch.setenv("CQRS_PREFETCH_FILE", str(tmp_path / "prefetch"))
    monkeypatch.delenv("CQRS_PREFETCH", raising=False)
    assert load(BrokerSettings).prefetch == 64


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("at amqp://guest:pw@127.0.0.1:5672/v: refused", "at amqp://guest:***@127.0.0.1:5672/v: refused"),
        ("amqps://u:p@ss@h:5671/?cafile=/ca.pem", "amqps://u:***@h:5671/?cafile=/ca.pem"),
        (
            "mongodb://ferretdb:pw@h1,h2/?authMechanism=PLAIN",
            "mongodb://ferretdb:***@h1,h2/?authMechanism=PLAIN",
        ),
        (
            "postgresql://u@h/db?password=pw&sslmode=require",
            "postgresql://u@h/db?password=***&sslmode=require",
        ),
        ("host=h password='p w' user=u", "host=h password=*** user=u"),
        ("http://127.0.0.1:8081/readyz", "http://127.0.0.1:8081/readyz"),
    ],
)
def test_redact_leaves_no_password(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_help_shows_no_default_password_and_lists_the_file_variables() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "command_service", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "cqrs_command:cqrs_command@" not in shown
    assert "guest:guest@" not in shown
    assert "postgresql://cqrs_command:***@127.0.0.1:5432/cqrs" in shown
    for variable in ("CQRS_RABBITMQ_URL_FILE", "CQRS_POSTGRES_DSN_FILE"):
        assert variable in shown
