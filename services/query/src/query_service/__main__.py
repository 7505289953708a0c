"""``query-service``: run the query service in the foreground until SIGINT or SIGTERM."""

from cqrs_shared import logs, runtime
from cqrs_shared.settings import load
from query_service.app import serve
from query_service.settings import QuerySettings


async def _main() -> None:
    settings = load(QuerySettings)
    logs.configure("query", settings.log_level)
    await serve(settings, runtime.stop_event())


def main() -> None:
    runtime.run(_main())


if __name__ == "__main__":
    main()
