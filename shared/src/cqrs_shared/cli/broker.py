"""``cqrs broker definitions|grant``: the broker's users, permissions and queue bounds, from the one
table in messaging/access.py. Talks to no broker: provisioning applies what it prints.

definitions  a RabbitMQ definitions document (the vhost; users cqrs-admin, cqrs-command, cqrs-query
             and cqrs-client with their passwords' hashes, permissions and topic permissions; the
             queue policies) for ``load_definitions`` or ``rabbitmqctl import_definitions``. Each
             password from CQRS_RABBITMQ_<ROLE>_PASSWORD or CQRS_RABBITMQ_<ROLE>_PASSWORD_FILE.
grant        the rabbitmqctl commands that give an existing user a role (another client, say).
"""

import argparse
import json
import os
import shlex
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from cqrs_shared.messaging.access import (
    ROLES,
    VHOST,
    Account,
    Bounds,
    definitions,
    grant_commands,
    password_hash,
)
from cqrs_shared.runtime.secret_files import SecretFileError, read_secret

AREA = "broker"
EXIT_OK, EXIT_CONFIGURATION = 0, 2
LENGTHS = {  # option -> its variable and default
    "queue_max_length": ("CQRS_QUEUE_MAX_LENGTH", Bounds.work),
    "dead_letter_max_length": ("CQRS_DEAD_LETTER_MAX_LENGTH", Bounds.dead_letter),
}


class ConfigurationError(Exception):
    """A setting of ``cqrs broker`` that cannot be used; the message names it."""


def add_parsers(
    areas: "argparse._SubParsersAction[argparse.ArgumentParser]", common: argparse.ArgumentParser
) -> None:
    area = areas.add_parser(AREA, parents=[common], help="the broker's users, permissions and queue bounds")
    verbs = area.add_subparsers(dest="verb", required=True)
    made = verbs.add_parser("definitions", parents=[common], help="write a RabbitMQ definitions document")
    made.add_argument("--out", required=True, metavar="FILE", help="where to write it; - for stdout")
    made.add_argument("--vhost", default=VHOST, help=f"the pair's vhost (default {VHOST})")
    for option, what in (
        ("queue_max_length", "messages a work queue holds; more go to its .dlq"),
        ("dead_letter_max_length", "messages a .dlq or retry queue holds; more are refused (nack)"),
    ):
        variable, default = LENGTHS[option]
        made.add_argument(
            "--" + option.replace("_", "-"),
            type=int,
            metavar="N",
            help=f"{what} (default ${variable}, else {default:,})",
        )
    grant = verbs.add_parser("grant", parents=[common], help="rabbitmqctl commands giving a user a role")
    grant.add_argument("role", choices=sorted(ROLES))
    grant.add_argument("user")
    grant.add_argument("--vhost", default=VHOST, help=f"the pair's vhost (default {VHOST})")


def run(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> int:
    if args.verb == "grant":
        for command in grant_commands(ROLES[args.role], args.user, args.vhost):
            print(shlex.join(["rabbitmqctl", *command]))
        return EXIT_OK
    try:
        accounts = [
            Account(role, role.user, password_hash(_password(role.name, environ), os.urandom(4)))
            for role in ROLES.values()
        ]
        bounds = Bounds(*(_length(args, option, environ) for option in LENGTHS))
    except (SecretFileError, ConfigurationError) as error:
        print(f"cqrs broker definitions: {error}", file=sys.stderr)
        return EXIT_CONFIGURATION
    text = json.dumps(definitions(accounts, args.vhost, bounds), indent=2) + "\n"
    if args.out == "-":
        sys.stdout.write(text)
    else:
        _write(Path(args.out), text)
    return EXIT_OK


def _password(role: str, environ: Mapping[str, str]) -> str:
    variable = f"CQRS_RABBITMQ_{role.upper()}_PASSWORD"
    value, path = environ.get(variable, ""), environ.get(f"{variable}_FILE", "")
    if value and path:
        raise ConfigurationError(f"{variable}_FILE: {variable} is set too; give one of the two")
    if path:
        return read_secret(f"{variable}_FILE", path)
    if not value:
        raise ConfigurationError(f"{variable}: not set (nor {variable}_FILE): the {role} user's password")
    return value


def _length(args: argparse.Namespace, option: str, environ: Mapping[str, str]) -> int:
    """The option, else its variable, else the default; at least 1."""
    variable, default = LENGTHS[option]
    given: int | None = getattr(args, option)
    if given is None:
        text = environ.get(variable, "")
        if text and not text.isdigit():
            raise ConfigurationError(f"{variable}: expected a whole number, got {text!r}")
        given = int(text) if text else default
    if given < 1:
        raise ConfigurationError(f"{variable} (--{option.replace('_', '-')}): must be at least 1")
    return given


def _write(path: Path, text: str) -> None:
    """All of it or nothing (a broker may read it at any moment). Readable by others: the broker may
    run as another user or in another container; it holds salted hashes, never a password."""
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False) as out:
        out.write(text)
    Path(out.name).chmod(0o644)
    Path(out.name).replace(path)
