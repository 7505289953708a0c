"""Settings come from CQRS_* variables once; a malformed one stops start-up and names itself."""

import pytest

from command_service.settings import CommandSettings
from cqrs_shared.runtime.settings import load


def test_defaults_point_at_the_local_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CQRS_POSTGRES_DSN", raising=False)
    monkeypatch.setenv("CQRS_RABBITMQ_URL", "amqp://cqrs-command:pw@127.0.0.1:5672/cqrs")
    settings = load(CommandSettings)
    assert str(settings.postgres_dsn).startswith("postgresql://cqrs_command:")


def test_the_broker_url_has_no_default_a_service_must_be_told_its_user(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("CQRS_RABBITMQ_URL", "CQRS_RABBITMQ_URL_FILE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit) as stopped:
        load(CommandSettings)
    assert stopped.value.code == 2
    assert capsys.readouterr().err == "configuration error: CQRS_RABBITMQ_URL: not set (required)\n"


def test_broker_urls_of_one_cluster_name_one_user_which_is_the_services(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A service publishes its retries and dead letters as its user (messaging/senders.py).
    nodes = "amqp://cqrs-command:pw@a:5672/cqrs,amqp://cqrs-command:pw@b:5672/cqrs"
    monkeypatch.setenv("CQRS_RABBITMQ_URL", nodes)
    assert load(CommandSettings).broker_user() == "cqrs-command"
    monkeypatch.setenv("CQRS_RABBITMQ_URL", "amqp://cqrs-command:pw@a:5672/cqrs,amqp://other:pw@b:5672/cqrs")
    with pytest.raises(SystemExit) as stopped:
        load(CommandSettings)
    assert stopped.value.code == 2
    assert "every broker URL must name the same user" in capsys.readouterr().err


def test_a_malformed_variable_stops_start_up_and_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CQRS_PREFETCH", "lots")
    with pytest.raises(SystemExit) as stopped:
        load(CommandSettings)
    assert stopped.value.code == 2
    assert "CQRS_PREFETCH" in capsys.readouterr().err


def test_an_action_without_the_broker_needs_no_broker_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """command-service migrate and healthcheck talk to PostgreSQL or HTTP, never to RabbitMQ."""
    for name in ("CQRS_RABBITMQ_URL", "CQRS_RABBITMQ_URL_FILE"):
        monkeypatch.delenv(name, raising=False)
    assert load(CommandSettings, broker=False).command_http_port == 8081
