"""``command-service``: run the command service in the foreground until SIGINT or SIGTERM."""

from command_service.app import serve
from command_service.settings import CommandSettings
from cqrs_shared.runtime import serve_forever


def main() -> None:
    serve_forever("command", CommandSettings, serve)


if __name__ == "__main__":
    main()
