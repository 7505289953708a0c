"""The query service: projects events into MongoDB documents and answers queries over RabbitMQ RPC.

Runs in the foreground until SIGINT or SIGTERM, then finishes in-flight messages and exits 0.
"""

from opentelemetry.instrumentation.pymongo import PymongoInstrumentor

from cqrs_shared.runtime import serve_forever
from query_service.app import serve
from query_service.settings import QuerySettings


def main() -> None:
    serve_forever("query", QuerySettings, serve, __doc__ or "", [PymongoInstrumentor()])


if __name__ == "__main__":
    main()
