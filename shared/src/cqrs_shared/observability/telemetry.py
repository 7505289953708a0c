"""OpenTelemetry tracing, off unless the standard OTEL_* variables ask for it.

OTEL_TRACES_EXPORTER=otlp   spans go to a collector (OTEL_EXPORTER_OTLP_ENDPOINT, OTLP over HTTP)
OTEL_TRACES_EXPORTER=console  one JSON object a line on stdout
unset, or none              no SDK, no instrumentation: the W3C traceparent still passes through

with telemetry.tracing("command-service", [AsyncPGInstrumentor()]):
    ...   # spans of aio-pika (publish, consume) and of the given libraries; flushed on exit
"""

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence

from opentelemetry import trace
from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter


def _one_line(span: ReadableSpan) -> str:
    line: str = span.to_json(indent=None)
    return line + "\n"


def _exporter(name: str) -> SpanExporter:
    if name == "console":
        return ConsoleSpanExporter(out=sys.stdout, formatter=_one_line)
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    raise ValueError(f"OTEL_TRACES_EXPORTER={name!r}: this service exports to otlp, console or none")


@contextlib.contextmanager
def tracing(service: str, instrumentors: Sequence[BaseInstrumentor] = ()) -> Iterator[bool]:
    """Trace while the block runs, if OTEL_TRACES_EXPORTER asks for it; yields whether it does."""
    wanted = os.environ.get("OTEL_TRACES_EXPORTER", "none").strip().lower()
    if wanted in ("", "none"):
        yield False
        return
    resource = Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME", service)})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(_exporter(wanted)))
    trace.set_tracer_provider(provider)
    everything = [AioPikaInstrumentor(), *instrumentors]
    for instrumentor in everything:
        instrumentor.instrument(tracer_provider=provider)
    try:
        yield True
    finally:
        for instrumentor in everything:
            instrumentor.uninstrument()
        provider.shutdown()
