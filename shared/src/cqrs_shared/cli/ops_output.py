"""How ``cqrs dlq`` and ``cqrs status`` print: lines and tables for people, one JSON document for scripts."""

import base64
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from cqrs_shared.cli.status import Service, Status
from cqrs_shared.messaging.dlq import DeadLetter, Found, Settled

REASON_WIDTH = 50


def found(queues: Sequence[Found], as_json: bool) -> None:
    if as_json:
        print(json.dumps({"queues": [_found_json(item) for item in queues]}))
        return
    for item in queues:
        if not item.present:
            print(f"{item.queue}: absent (its service has not declared it yet)")
            continue
        more = f", {len(item.letters)} read" if len(item.letters) < item.depth else ""
        print(f"{item.queue}: {item.depth} dead letter{'' if item.depth == 1 else 's'}{more}")
        if item.letters:
            print(f"  {'MESSAGE ID':<36}  {'TYPE':<16}  {'FROM':<24}  {'CODE':<18}  {'AT':<19}  REASON")
        for letter in item.letters:
            print(
                f"  {letter.message_id or '-':<36}  {(letter.type or '-')[:16]:<16}  "
                f"{letter.original_queue[:24]:<24}  {(letter.error_code or '-')[:18]:<18}  "
                f"{_when(letter.timestamp):<19}  {_short(letter.reason or '')}"
            )


def letters(items: Sequence[DeadLetter], as_json: bool) -> None:
    if as_json:
        print(json.dumps({"letters": [_letter_json(letter, full=True) for letter in items]}))
        return
    print("\n\n".join(_full(letter) for letter in items))


def settled(action: str, results: Sequence[Settled], as_json: bool) -> None:
    done = [letter for result in results for letter in result.done]
    failed = [item for result in results for item in result.failed]
    if as_json:
        document = {
            "action": action,
            "count": len(done),
            "messages": [_letter_json(letter, full=False) for letter in done],
            "failed": [{**_letter_json(letter, full=False), "problem": why} for letter, why in failed],
        }
        print(json.dumps(document))
        return
    verb = "replayed" if action == "replay" else "discarded"
    print(f"{verb} {len(done)} dead letter{'' if len(done) == 1 else 's'}")
    for letter in done:
        target = f" -> {letter.original_queue}" if action == "replay" else ""
        print(f"  {letter.message_id or '-'}  {letter.type or '-'}  ({letter.queue}{target})")
    for letter, why in failed:
        print(f"  NOT {verb}: {letter.message_id or '-'}: {why}")


def status(value: Status, as_json: bool) -> None:
    if as_json:
        print(json.dumps(_status_json(value)))
        return
    print(f"{'SERVICE':<8}  {'STATE':<11}  DETAILS")
    for service in value.services:
        state, details = _service_lines(service)
        print(f"{service.name:<8}  {state:<11}  {details[0]}")
        for line in details[1:]:
            print(f"{'':<8}  {'':<11}  {line}")
    print()
    if value.broker_problem is not None:
        print(f"broker: {value.broker_problem}")
        return
    print(f"{'QUEUE':<34}  {'READY':>7}  {'CONSUMERS':>9}")
    for queue in value.queues:
        if queue.present:
            print(f"{queue.name:<34}  {queue.messages:>7}  {queue.consumers:>9}")
        else:
            print(f"{queue.name:<34}  {'absent':>7}")
    dead = sum(queue.messages for queue in value.queues if queue.dead_letters)
    if dead:
        print(f"\n{dead} dead letter{'' if dead == 1 else 's'}: see cqrs dlq list")


def _service_lines(service: Service) -> tuple[str, list[str]]:
    if not service.reachable:
        return "unreachable", [f"{service.url}: {service.problem}"]
    answer = service.readiness
    if answer is None:
        return "unknown", [service.problem or ""]
    lines = [f"{name}: {check.reason or 'failing'}" for name, check in answer.checks.items() if not check.ok]
    if answer.outbox is not None:
        age = answer.outbox.oldest_age_seconds
        lines.append(f"outbox backlog {answer.outbox.backlog}" + (f", oldest {age:.1f} s" if age else ""))
    lag = answer.checks.get("projection_lag")
    if lag is not None and lag.events is not None:
        lines.append(f"projection lag {lag.events} events, {lag.seconds or 0.0:.1f} s")
    return ("ready" if answer.ready else "not ready"), lines or [""]


def _status_json(value: Status) -> dict[str, Any]:
    services = []
    for service in value.services:
        state, _ = _service_lines(service)
        services.append(
            {
                "name": service.name,
                "url": service.url,
                "state": state,
                "problem": service.problem,
                "readiness": None
                if service.readiness is None
                else service.readiness.model_dump(mode="json", exclude_none=True),
            }
        )
    return {
        "ready": value.all_ready,
        "broker": {"ok": value.broker_problem is None, "problem": value.broker_problem},
        "services": services,
        "queues": [
            {
                "name": q.name,
                "present": q.present,
                "messages": q.messages,
                "consumers": q.consumers,
                "dead_letters": q.dead_letters,
            }
            for q in value.queues
        ],
    }


def _found_json(item: Found) -> dict[str, Any]:
    return {
        "queue": item.queue,
        "present": item.present,
        "depth": item.depth,
        "letters": [_letter_json(letter, full=False) for letter in item.letters],
    }


def _letter_json(letter: DeadLetter, *, full: bool) -> dict[str, Any]:
    document: dict[str, Any] = {
        "queue": letter.queue,
        "message_id": letter.message_id,
        "type": letter.type,
        "original_queue": letter.original_queue,
        "error_code": letter.error_code,
        "reason": letter.reason,
        "timestamp": None if letter.timestamp is None else letter.timestamp.isoformat(),
    }
    if full:
        document |= {
            "correlation_id": letter.correlation_id,
            "reply_to": letter.reply_to,
            "content_type": letter.content_type,
            "headers": _plain(letter.headers),
            "body_json": _json_body(letter.body),
            "body_base64": base64.b64encode(letter.body).decode(),
        }
    return document


def _full(letter: DeadLetter) -> str:
    rows = [
        ("queue", letter.queue),
        ("message id", letter.message_id),
        ("type", letter.type),
        ("correlation", letter.correlation_id),
        ("reply to", letter.reply_to),
        ("content", letter.content_type),
        ("timestamp", _when(letter.timestamp)),
    ]
    lines = [f"{label:<12} {value if value is not None else '-'}" for label, value in rows]
    lines.append("headers")
    lines += [f"  {name}: {_plain(value)}" for name, value in sorted(letter.headers.items())]
    parsed = _json_body(letter.body)
    body = repr(letter.body) if parsed is None and letter.body != b"null" else json.dumps(parsed, indent=2)
    lines.append("body")
    lines += [f"  {line}" for line in body.splitlines()]
    return "\n".join(lines)


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:  # UnicodeDecodeError and JSONDecodeError both are
        return None


def _plain(value: object) -> Any:
    """A header value as JSON can carry it (headers hold bytes, datetimes, decimals, tables)."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M:%S}"


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= REASON_WIDTH else text[: REASON_WIDTH - 1] + "…"
