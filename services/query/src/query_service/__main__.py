"""The query service: projects events into MongoDB documents and answers queries over RabbitMQ RPC.

Serves in the foreground until SIGINT or SIGTERM, then finishes in-flight messages and exits 0.
"""

import sys

from cqrs_shared.runtime import entry
from cqrs_shared.runtime.settings import load
from query_service.settings import QuerySettings


def main() -> None:
    chosen = entry.action("query", QuerySettings, __doc__ or "")
    settings = load(QuerySettings, broker=chosen == entry.SERVE)
    if chosen == entry.HEALTHCHECK:
        sys.exit(entry.healthcheck(settings.http_host, settings.query_http_port))
    # The service's modules load only when it serves (the healthcheck stays light).
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor

    from cqrs_shared.runtime import lifecycle as runtime
    from query_service.app import serve

    runtime.serve_forever("query", settings, serve, [PymongoInstrumentor()])


if __name__ == "__main__":
    main()
