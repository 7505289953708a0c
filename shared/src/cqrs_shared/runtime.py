"""Process entry: settings, logs, uvloop, stopping on SIGINT/SIGTERM, and the exit status."""

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from cqrs_shared import logs, telemetry
from cqrs_shared.errors import StartupError
from cqrs_shared.messaging.watchdog import BrokerLost
from cqrs_shared.settings import BrokerSettings, load

S = TypeVar("S", bound=BrokerSettings)
log = logging.getLogger(__name__)


STOPPING = (signal.SIGINT, signal.SIGTERM)


def stop_event() -> asyncio.Event:
    """An event set by the first SIGINT or SIGTERM; in-flight work then finishes before exit.

    Both are unblocked first: a mask inherited from whatever started the process (a harness, a
    supervisor) would otherwise keep a service from ever seeing the signal that stops it.
    """
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPPING)
    for sig in STOPPING:
        loop.add_signal_handler(sig, stopped.set)
    return stopped


def run(main: Coroutine[Any, Any, int]) -> int:
    """Run ``main`` on uvloop where it is installed (+10-34 % measured on this path); its exit status."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def usage(name: str, settings: type[S], about: str) -> argparse.ArgumentParser:
    """``--help``: what the service does and every setting it reads, with its default."""
    lines = ["settings (environment variables):"]
    for field, info in settings.model_fields.items():
        default = "" if info.default is None else f" (default: {info.default})"
        lines.append(f"  CQRS_{field.upper():<26}{info.description or ''}{default}")
    return argparse.ArgumentParser(
        prog=f"{name}-service",
        description=about,
        epilog="\n".join(lines),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def serve_forever(
    name: str,
    settings: type[S],
    serve: Callable[[S, asyncio.Event], Awaitable[None]],
    about: str,
    instrumentors: Sequence[BaseInstrumentor] = (),
) -> None:
    """A service's ``main``: 0 after a requested stop; 1 when it cannot start or the broker stayed away.

    It takes no arguments but ``--help``; everything else is a setting.
    """
    usage(name, settings, about).parse_args()

    async def _main() -> int:
        loaded = load(settings)
        logs.configure(name, loaded.log_level, loaded.log_format)
        try:
            with telemetry.tracing(f"{name}-service", instrumentors):
                await serve(loaded, stop_event())
        except BrokerLost as error:
            # Non-zero, so that the supervisor (container runtime, systemd) starts a fresh process.
            log.error("%s; exiting so that the service is restarted", error)
            return 1
        except StartupError as error:
            log.error("cannot start: %s", error)
            return 1
        return 0

    sys.exit(run(_main()))
