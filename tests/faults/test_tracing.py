"""One trace across both processes: the client's command, its handling and PostgreSQL transaction,
the relay's publish, the projection, and a query that waited for it (OTEL_TRACES_EXPORTER=console).
"""

import json
from pathlib import Path
from typing import Any

from cqrs_client.client import CqrsClient
from cqrs_client.tracing import child_traceparent, new_traceparent, trace_id
from cqrs_contracts import CreateCustomer, GetCustomer
from tests.builders import accepted
from tests.own import own_resources, running
from tests.pair import Service
from tests.resources import Servers


def spans(service: Service, trace: str) -> list[dict[str, Any]]:
    """The spans of ``trace`` the service exported (its stdout, one JSON object a line)."""
    found = []
    for line in service.output().splitlines():
        if line.startswith("{") and '"context"' in line:
            span = json.loads(line)
            if span["context"]["trace_id"] == f"0x{trace}":
                found.append(span)
    return found


def kinds(found: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(span["kind"], span["attributes"].get("db.system", span["name"])) for span in found}


async def test_one_trace_runs_from_the_command_to_the_query_that_waited_for_it(
    servers: Servers, tmp_path: Path
) -> None:
    traceparent = new_traceparent()
    trace = trace_id(traceparent)
    assert trace is not None
    async with (
        own_resources(servers, {"OTEL_TRACES_EXPORTER": "console"}) as own,
        running(own.env, tmp_path) as services,
    ):
        async with CqrsClient.connect(own.amqp_url, timeout=10) as client:
            created = accepted(
                await client.send(CreateCustomer(name="Traced", locale="en"), traceparent=traceparent)
            )
            query = GetCustomer(customer_id=created.id, token=created.token)
            await client.ask(query, traceparent=child_traceparent(traceparent))
        command, query_service = services.command, services.query
    # Stopped: each service flushed its spans on the way out.
    on_command, on_query = spans(command, trace), spans(query_service, trace)
    assert {span["resource"]["attributes"]["service.name"] for span in on_command} == {"command-service"}
    assert {span["resource"]["attributes"]["service.name"] for span in on_query} == {"query-service"}
    command_kinds, query_kinds = kinds(on_command), kinds(on_query)
    assert ("SpanKind.CONSUMER", "cqrs.commands receive") in command_kinds, command_kinds
    assert any(kind == ("SpanKind.CLIENT", "postgresql") for kind in command_kinds), command_kinds
    assert ("SpanKind.PRODUCER", "cqrs.events,customer.created send") in command_kinds, command_kinds
    assert ("SpanKind.CONSUMER", "cqrs.events receive") in query_kinds, query_kinds
    assert ("SpanKind.CONSUMER", "cqrs.queries receive") in query_kinds, query_kinds
    assert any(kind == ("SpanKind.CLIENT", "mongodb") for kind in query_kinds), query_kinds
