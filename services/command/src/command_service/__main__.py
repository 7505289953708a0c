"""``command-service``: run the command service in the foreground until SIGINT or SIGTERM."""

from command_service.app import serve
from command_service.settings import CommandSettings
from cqrs_shared import logs, runtime
from cqrs_shared.settings import load


async def _main() -> None:
    settings = load(CommandSettings)
    logs.configure("command", settings.log_level)
    await serve(settings, runtime.stop_event())


def main() -> None:
    runtime.run(_main())


if __name__ == "__main__":
    main()
