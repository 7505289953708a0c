"""``query-service``: run the query service in the foreground until SIGINT or SIGTERM."""

import logging
import sys

from cqrs_shared import logs, runtime
from cqrs_shared.messaging.watchdog import BrokerLost
from cqrs_shared.settings import load
from query_service.app import serve
from query_service.settings import QuerySettings


async def _main() -> int:
    settings = load(QuerySettings)
    logs.configure("query", settings.log_level)
    try:
        await serve(settings, runtime.stop_event())
    except BrokerLost as error:
        # Exit non-zero: the supervisor (container runtime, systemd) starts a fresh process.
        logging.getLogger(__name__).error("%s; exiting so that the service is restarted", error)
        return 1
    return 0


def main() -> None:
    sys.exit(runtime.run(_main()))


if __name__ == "__main__":
    main()
