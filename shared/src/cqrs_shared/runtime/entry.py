"""A service's command line, kept light: a container HEALTHCHECK runs it every few seconds.

    command-service               serve until SIGINT or SIGTERM (the default action)
    command-service healthcheck   exit 0 when the service in this container is ready, else 1
    command-service migrate       (command service only) apply the migrations, then exit

Only argparse, urllib, the settings class and the redaction of secrets are imported here; the service
itself is imported by the action that needs it.
"""

import argparse
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from cqrs_client.redaction import redact
from cqrs_shared.runtime.secret_files import SUFFIX, is_secret

SERVE = "serve"
HEALTHCHECK = "healthcheck"
# The endpoint bounds its own checks to 2 s (probes.CHECK_TIMEOUT_SECONDS); a bit more for the reply.
HEALTHCHECK_TIMEOUT_SECONDS = 3.0
WILDCARD_HOSTS = {"0.0.0.0", "::", ""}  # a service listening everywhere is asked on loopback


def usage(name: str, settings: type[BaseSettings], about: str) -> argparse.ArgumentParser:
    """``--help``: what the service does, its actions, and every setting it reads, with its default.

    A secret's default is shown without its password, and its ``_FILE`` variant is listed after it.
    """
    lines = ["settings (environment variables):"]
    for field, info in settings.model_fields.items():
        lines.append(f"  CQRS_{field.upper():<26}{info.description or ''}{_default(info)}")
        if is_secret(info):
            lines.append(f"  CQRS_{(field + SUFFIX).upper():<26}a file holding CQRS_{field.upper()} instead")
    return argparse.ArgumentParser(
        prog=f"{name}-service",
        description=about,
        epilog="\n".join(lines),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return " (required)"
    value = info.get_default(call_default_factory=True)
    return "" if value is None else f" (default: {redact(str(value))})"


def action(name: str, settings: type[BaseSettings], about: str, extra: Mapping[str, str] = {}) -> str:
    """The action the command line asks for (``serve`` when none); exits 2 on anything unknown."""
    actions = {
        SERVE: "run until SIGINT or SIGTERM, then finish in-flight messages (the default)",
        HEALTHCHECK: "exit 0 if the service on this host answers /readyz with ready, else 1",
        **extra,
    }
    parser = usage(name, settings, about)
    parser.add_argument(
        "action",
        nargs="?",
        default=SERVE,
        choices=list(actions),
        help="; ".join(f"{key}: {text}" for key, text in actions.items()),
    )
    chosen: str = parser.parse_args().action
    return chosen


def healthcheck(host: str, port: int) -> int:
    """0 when http://host:port/readyz says ready; 1, with the reason on stdout, otherwise."""
    url = f"http://{'127.0.0.1' if host in WILDCARD_HOSTS else host}:{port}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=HEALTHCHECK_TIMEOUT_SECONDS) as reply:
            print(reply.read().decode(errors="replace"))
            return 0
    except urllib.error.HTTPError as error:
        print(f"not ready ({error.code}): {error.read().decode(errors='replace')}")
    except OSError as error:
        print(f"no answer from {url}: {error}")
    sys.stdout.flush()
    return 1
