"""What an operator sees of the running pair: probes, counters, JSON log lines, and no secret in them."""

import asyncio
import json
import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

import aiohttp

from cqrs_client.client import CqrsClient
from cqrs_contracts import CreateCustomer, GetCustomer
from tests.builders import accepted
from tests.pair import ROOT, Pair, Service, free_port
from tests.scrape import metric
from tests.waiting import until


async def get(service: Service, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(service.url + path) as response:
        return response.status, await response.text()


async def handled(service: Service, **labels: str) -> float:
    return await metric(service.url, "cqrs_messages_handled_total", **labels)


def json_lines(service: Service) -> list[dict[str, Any]]:
    """Every line the service logged; each must be one JSON object (its log goes to a file)."""
    return [json.loads(line) for line in service.output().splitlines() if line.strip()]


async def test_both_services_answer_their_probes(pair: Pair) -> None:
    for service, name in ((pair.command, "command"), (pair.query, "query")):
        assert (await get(service, "/healthz"))[0] == 200
        status, body = await get(service, "/readyz")
        report = json.loads(body)
        assert (status, report["service"], report["ready"]) == (200, name, True), report
        assert all(check["ok"] for check in report["checks"].values())
    assert "outbox" in json.loads((await get(pair.command, "/readyz"))[1])
    assert "projection_lag" in json.loads((await get(pair.query, "/readyz"))[1])["checks"]


async def test_after_n_commands_the_counters_say_n(pair: Pair, client: CqrsClient) -> None:
    labels = {"queue": "command-service.commands", "type": "CreateCustomer", "outcome": "accepted"}
    before = await handled(pair.command, **labels)
    for n in range(7):
        await client.send(CreateCustomer(name=f"Counted {n}", locale="en"))
    assert await handled(pair.command, **labels) - before == 7


async def test_a_command_and_a_query_leave_json_lines_in_both_services_with_their_ids(
    pair: Pair, client: CqrsClient
) -> None:
    command_id = uuid4()
    created = accepted(await client.send(CreateCustomer(name="Logged", locale="en"), command_id=command_id))
    await client.ask(GetCustomer(customer_id=created.id, token=created.token))

    async def command_line() -> dict[str, Any] | None:
        lines = [line for line in json_lines(pair.command) if line.get("message_id") == str(command_id)]
        return lines[0] if lines else None

    handled_line = await until(command_line, timeout=10, what="the command's log line")
    correlation, trace = handled_line["correlation_id"], handled_line["trace_id"]
    assert handled_line["type"] == "CreateCustomer"
    assert len(trace) == 32

    async def projected() -> list[dict[str, Any]] | None:
        lines = [
            line
            for line in json_lines(pair.query)
            if line.get("correlation_id") == correlation and line.get("type") == "CustomerCreated"
        ]
        return lines or None

    [event_line] = await until(projected, timeout=10, what="the event's log line in the query service")
    assert event_line["trace_id"] == trace
    assert any(line.get("type") == "GetCustomer" for line in json_lines(pair.query))


async def test_no_password_reaches_a_log_line(pair: Pair) -> None:
    secret = f"S3cret{uuid4().hex[:8]}"
    url = urlsplit(pair.env["CQRS_RABBITMQ_URL"])
    wrong = url._replace(netloc=f"{url.username}:{secret}@{url.hostname}:{url.port or 5672}").geturl()
    env = {**pair.env, "CQRS_RABBITMQ_URL": wrong, "CQRS_COMMAND_HTTP_PORT": str(free_port())}
    command = [sys.executable, "-m", "command_service"]
    refused = await asyncio.to_thread(
        subprocess.run, command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert refused.returncode == 1
    assert "cannot connect to the broker" in refused.stderr
    everything = refused.stderr + "".join(
        log.read_text(errors="replace") for log in pair.log_dir.glob("*.log")
    )
    assert secret not in everything
    for variable in ("CQRS_RABBITMQ_URL", "CQRS_POSTGRES_DSN"):
        password = urlsplit(pair.env[variable]).password
        assert password
        assert f":{password}@" not in everything
