"""The parsers of ``cqrs broker definitions|grant``; cli/broker.py runs them (it says what they print).

The roles are messaging/access.py's, named only when a parse or a verb's --help needs them; the
defaults written here are checked against that module by tests/unit/test_cli_parsers.py.
"""

from collections.abc import Collection

from cqrs_shared.cli.parsers.common import Areas, Deferred, options

AREA = "broker"
VHOST = "cqrs"  # access.VHOST
_VHOST = "the vhost (default: the pair's, %(default)s)"


def add_parsers(areas: Areas) -> None:
    common = options(timeout=False)  # it talks to no broker
    area = areas.add_parser(AREA, parents=[common], help="the broker's users, permissions and queue bounds")
    verbs = area.add_subparsers(dest="verb", required=True)
    made = verbs.add_parser(
        "definitions",
        parents=[common],
        help="write a RabbitMQ definitions document",
        description="A RabbitMQ definitions document: the vhost, a user per role with its password's "
        "hash (from CQRS_RABBITMQ_<ROLE>_PASSWORD or CQRS_RABBITMQ_<ROLE>_PASSWORD_FILE, ROLE one of "
        "ADMIN, COMMAND, QUERY, CLIENT), their permissions, the queue policies.",
    )
    made.add_argument("--out", required=True, metavar="FILE", help="where to write it; - for stdout")
    made.add_argument("--vhost", default=VHOST, help=_VHOST)
    made.add_argument(
        "--queue-max-length",
        type=int,
        metavar="N",
        help="messages a work queue holds; more go to its .dlq "
        "(default $CQRS_QUEUE_MAX_LENGTH, else 100,000)",
    )
    made.add_argument(
        "--dead-letter-max-length",
        type=int,
        metavar="N",
        help="messages a .dlq or retry queue holds; more are refused (nack) "
        "(default $CQRS_DEAD_LETTER_MAX_LENGTH, else 1,000,000)",
    )
    grant = verbs.add_parser("grant", parents=[common], help="rabbitmqctl commands giving a user a role")
    grant.add_argument(
        "role", metavar="ROLE", choices=Deferred(_grantable), help="the role to give: %(choices)s"
    )
    grant.add_argument("user", help="the RabbitMQ user to give it to (it must exist)")
    grant.add_argument("--vhost", default=VHOST, help=_VHOST)


def _grantable() -> Collection[str]:
    from cqrs_shared.messaging.access import GRANTABLE  # the contracts, pydantic: not for --help

    return GRANTABLE
