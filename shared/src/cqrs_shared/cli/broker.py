"""``cqrs broker definitions|grant``: the broker's users, permissions and queue bounds, from the one
table in messaging/access.py. Talks to no broker: provisioning applies what it prints.

definitions  a RabbitMQ definitions document (the vhost; users cqrs-admin, cqrs-command, cqrs-query
             and cqrs-client with their passwords' hashes, permissions and topic permissions; the
             queue policies) for ``load_definitions`` or ``rabbitmqctl import_definitions``. Each
             password from CQRS_RABBITMQ_<ROLE>_PASSWORD or CQRS_RABBITMQ_<ROLE>_PASSWORD_FILE.
grant        the rabbitmqctl commands that give an existing user a role (another client, say), or
             the subscriber role made for that user: its own queues subscriber.<user>[.<anything>],
             bound to cqrs.events (docs/subscribers.md).

Parsed by parsers/broker.py. With --json, grant prints its commands as a JSON list of argument lists
(to run without a shell), definitions --out FILE prints {"out": FILE}, and a failure is the CLI's one
JSON error shape (report.py).
"""

import argparse
import json
import os
import shlex
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from cqrs_shared.cli.configuration import ConfigurationError
from cqrs_shared.cli.exits import EXIT_CONFIGURATION, EXIT_OK, EXIT_USAGE
from cqrs_shared.cli.report import failure
from cqrs_shared.messaging.access import (
    ROLES,
    Account,
    Bounds,
    definitions,
    grant_commands,
    grantable,
    password_hash,
)
from cqrs_shared.runtime.secret_files import SecretFileError, read_secret

LENGTHS = {  # option -> its variable and default
    "queue_max_length": ("CQRS_QUEUE_MAX_LENGTH", Bounds.work),
    "dead_letter_max_length": ("CQRS_DEAD_LETTER_MAX_LENGTH", Bounds.dead_letter),
}


def run(args: argparse.Namespace, environ: Mapping[str, str] = os.environ, *, as_json: bool = False) -> int:
    if args.verb == "grant":
        return _grant(args.role, args.user, args.vhost, as_json)
    try:
        accounts = [
            Account(role, role.user, password_hash(_password(role.name, environ), os.urandom(4)))
            for role in ROLES.values()
        ]
        bounds = Bounds(*(_length(args, option, environ) for option in LENGTHS))
    except (SecretFileError, ConfigurationError) as error:
        failure("configuration_error", str(error), as_json, label="cqrs broker definitions")
        return EXIT_CONFIGURATION
    text = json.dumps(definitions(accounts, args.vhost, bounds), indent=2) + "\n"
    if args.out == "-":
        sys.stdout.write(text)
        return EXIT_OK
    _write(Path(args.out), text)
    if as_json:  # the document is in the file: say where
        print(json.dumps({"out": args.out}))
    return EXIT_OK


def _grant(name: str, user: str, vhost: str, as_json: bool) -> int:
    try:
        role = grantable(name, user)
    except ValueError as error:  # a user this role cannot have: the command line is wrong
        failure("usage_error", str(error), as_json, label="cqrs broker grant")
        return EXIT_USAGE
    commands = [["rabbitmqctl", *command] for command in grant_commands(role, user, vhost)]
    if as_json:  # each command as its arguments, to run without a shell
        print(json.dumps(commands))
        return EXIT_OK
    for command in commands:
        print(shlex.join(command))
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
