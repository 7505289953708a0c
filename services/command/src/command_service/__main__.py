"""The command service: takes commands off RabbitMQ, decides them, writes PostgreSQL, publishes events.

Runs in the foreground until SIGINT or SIGTERM, then finishes in-flight commands and exits 0.
"""

from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

from command_service.app import serve
from command_service.settings import CommandSettings
from cqrs_shared.runtime import serve_forever


def main() -> None:
    # The instrumentation package ships no type hints for its constructor.
    instrumentors = [AsyncPGInstrumentor()]  # type: ignore[no-untyped-call]
    serve_forever("command", CommandSettings, serve, __doc__ or "", instrumentors)


if __name__ == "__main__":
    main()
