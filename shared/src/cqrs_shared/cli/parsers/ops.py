"""The parsers of the operator's verbs ``cqrs dlq list|show|replay|discard`` and ``cqrs status``.

cli/ops.py runs them.
"""

import argparse

from cqrs_shared.cli.parsers.common import Areas, CliParser

AREAS = ("dlq", "status")
_QUEUE = "a work queue such as command-service.commands, or its .dlq (cqrs status lists them)"


def add_parsers(areas: Areas, common: CliParser) -> None:
    dlq = areas.add_parser("dlq", parents=[common], help="dead letters: list, show, replay, discard")
    verbs = dlq.add_subparsers(dest="verb", required=True)
    listed = verbs.add_parser("list", parents=[common], help="the dead letters of one queue or of all")
    listed.add_argument("queue", nargs="?", type=_queue, help=f"{_QUEUE} (default: every queue)")
    show = verbs.add_parser(
        "show", parents=[common], help="one dead letter in full: properties, headers, body"
    )
    show.add_argument("id", help="its message id (cqrs dlq list shows them)")
    _in_queue(show)
    for name, helptext in (
        (
            "replay",
            "send back to the queue of its dead-letter queue (confirmed), then remove from the dead "
            "letters; one whose body is not a message of that queue, or whose headers name another, "
            "is refused and kept (exit 1, the reason printed)",
        ),
        ("discard", "remove for good"),
    ):
        verb = verbs.add_parser(name, parents=[common], help=helptext)
        which = verb.add_mutually_exclusive_group(required=True)
        which.add_argument("id", nargs="?", help="the message id of the dead letter")
        which.add_argument("--all", action="store_true", help="every dead letter (of --queue, if given)")
        _in_queue(verb)
    areas.add_parser(
        "status",
        parents=[common],
        help="services' readiness, queue depths, outbox backlog, projection lag",
        description="The services' readiness (their HTTP /readyz, at CQRS_COMMAND_HTTP_URL and "
        "CQRS_QUERY_HTTP_URL) and the depth of every queue. Exit 0 when all is ready, 1 when not, "
        "4 without the broker.",
    )


def _in_queue(verb: argparse.ArgumentParser) -> None:
    verb.add_argument(
        "--queue", type=_queue, help=f"only the dead letters of {_QUEUE} (default: every queue)"
    )


def _queue(name: str) -> str:
    """Checked while parsing, so that a typo is a usage error, not an empty answer."""
    from cqrs_shared.messaging.dlq import dead_letter_queues  # the broker's client: not for --help

    try:
        dead_letter_queues(name)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return name
