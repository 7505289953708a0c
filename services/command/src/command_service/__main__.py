"""The command service: takes commands off RabbitMQ, decides them, writes PostgreSQL, publishes events.

Serves in the foreground until SIGINT or SIGTERM, then finishes in-flight commands and exits 0.
"""

import sys

from command_service.settings import CommandSettings
from cqrs_shared.runtime import entry
from cqrs_shared.runtime.settings import load

MIGRATE = "migrate"


def main() -> None:
    chosen = entry.action(
        "command",
        CommandSettings,
        __doc__ or "",
        {MIGRATE: "apply the missing database migrations, then exit (an init container or a job)"},
    )
    settings = load(CommandSettings, broker=chosen == entry.SERVE)
    if chosen == entry.HEALTHCHECK:
        sys.exit(entry.healthcheck(settings.http_host, settings.command_http_port))
    # The service's modules load only for the actions that need them (the healthcheck stays light).
    from cqrs_shared.runtime import lifecycle as runtime

    if chosen == MIGRATE:
        from command_service.app import migrate_database

        runtime.one_shot("command", settings, migrate_database, "migrate database")
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    from command_service.app import serve

    # The instrumentation package ships no type hints for its constructor.
    runtime.serve_forever("command", settings, serve, [AsyncPGInstrumentor()])  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    main()
