"""What `cqrs dlq` and `cqrs status` print, from plain values (no broker, no HTTP)."""

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from cqrs_shared.cli import ops_output
from cqrs_shared.cli.status import QueueDepth, Service, Status
from cqrs_shared.messaging.dlq import DeadLetter, Found, Settled
from cqrs_shared.observability.readiness import Check, Outbox, Readiness


def letter(body: bytes, **headers: Any) -> DeadLetter:
    return DeadLetter(
        queue="command-service.commands.dlq",
        body=body,
        headers={"x-error-code": "malformed_message", "x-error-message": "body is not JSON " * 10, **headers},
        message_id="m-1",
        type=None,
        correlation_id=None,
        reply_to=None,
        content_type=None,
        timestamp=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )


def test_a_dead_letter_without_our_header_comes_from_the_queue_of_its_dead_letter_queue() -> None:
    assert letter(b"").original_queue == "command-service.commands"
    assert letter(b"", **{"x-original-queue": "elsewhere"}).original_queue == "elsewhere"


def test_a_binary_body_shows_as_bytes_and_a_json_body_pretty(capsys: pytest.CaptureFixture[str]) -> None:
    ops_output.letters([letter(b"\x00\x01junk"), letter(b'{"a": 1}')], as_json=False)
    shown = capsys.readouterr().out
    assert "b'\\x00\\x01junk'" in shown
    assert '    "a": 1' in shown


def test_headers_of_every_amqp_kind_become_json(capsys: pytest.CaptureFixture[str]) -> None:
    death = [{"queue": b"q", "time": datetime(2026, 1, 1, tzinfo=UTC), "count": Decimal("2")}]
    ops_output.letters([letter(b"[]", **{"x-death": death})], as_json=True)
    [shown] = json.loads(capsys.readouterr().out)["letters"]
    assert shown["headers"]["x-death"] == [{"queue": "q", "time": "2026-01-01T00:00:00+00:00", "count": "2"}]
    assert shown["body_json"] == []


def test_the_list_shortens_reasons_to_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    ops_output.found([Found("command-service.commands.dlq", True, 1, [letter(b"")])], as_json=False)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "command-service.commands.dlq: 1 dead letter"
    assert lines[2].endswith("…")
    assert len(lines[2]) < 190


def test_a_replay_that_could_not_be_sent_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    ops_output.settled("replay", [Settled("q.dlq", [letter(b"")], [(letter(b""), "returned")])], as_json=True)
    shown = json.loads(capsys.readouterr().out)
    assert (shown["count"], shown["failed"][0]["problem"]) == (1, "returned")


def test_status_shows_failing_checks_backlog_lag_and_unreachable_services(
    capsys: pytest.CaptureFixture[str],
) -> None:
    command = Readiness(
        service="command",
        ready=False,
        checks={"database": Check(ok=False, reason="connection refused")},
        outbox=Outbox(backlog=12, oldest_age_seconds=3.5),
    )
    status = Status(
        [
            Service("command", "http://127.0.0.1:8081", command),
            Service("query", "http://127.0.0.1:8082", problem="ClientConnectorError", reachable=False),
        ],
        [QueueDepth("command-service.commands.dlq", True, 2, 0, dead_letters=True), QueueDepth("x", False)],
    )
    ops_output.status(status, as_json=False)
    shown = capsys.readouterr().out
    assert "command   not ready    database: connection refused" in shown
    assert "outbox backlog 12, oldest 3.5 s" in shown
    assert "query     unreachable  http://127.0.0.1:8082: ClientConnectorError" in shown
    assert "x                                    absent" in shown
    assert "2 dead letters: see cqrs dlq list" in shown
    assert not status.all_ready
