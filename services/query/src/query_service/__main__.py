"""``query-service``: run the query service in the foreground until SIGINT or SIGTERM."""

from cqrs_shared.runtime import serve_forever
from query_service.app import serve
from query_service.settings import QuerySettings


def main() -> None:
    serve_forever("query", QuerySettings, serve)


if __name__ == "__main__":
    main()
