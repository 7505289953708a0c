"""The operator's verbs of ``cqrs``: ``dlq list|show|replay|discard`` and ``status``, parsed and run here.

The work is done by dlq.py and status.py, the printing by ops_output.py.
"""

import argparse

from cqrs_shared.cli import ops_output, output
from cqrs_shared.cli.status import StatusSettings, collect
from cqrs_shared.messaging.dlq import (
    QUEUES,
    Settled,
    broker,
    by_id,
    dead_letter_queues,
    discard,
    every,
    inspect,
    replay,
)
from cqrs_shared.runtime.settings import load

# The CLI's exit codes (see cli.py's docstring).
EXIT_OK, EXIT_ERROR, EXIT_REJECTED, EXIT_NOT_FOUND, EXIT_UNAVAILABLE = 0, 1, 2, 3, 4
AREAS = ("dlq", "status")


def add_parsers(
    areas: "argparse._SubParsersAction[argparse.ArgumentParser]", common: argparse.ArgumentParser
) -> None:
    dlq = areas.add_parser("dlq", parents=[common], help="dead letters: list, show, replay, discard")
    verbs = dlq.add_subparsers(dest="verb", required=True)
    listed = verbs.add_parser("list", parents=[common], help="the dead letters of one queue or of all")
    listed.add_argument("queue", nargs="?", type=_queue, help=f"one of {', '.join(QUEUES)} (or its .dlq)")
    show = verbs.add_parser(
        "show", parents=[common], help="one dead letter in full: properties, headers, body"
    )
    show.add_argument("id", help="its message id")
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
        "status", parents=[common], help="services' readiness, queue depths, outbox backlog, projection lag"
    )


async def run(args: argparse.Namespace, url: str, as_json: bool) -> int:
    if args.area == "status":
        found = await collect(load(StatusSettings))
        ops_output.status(found, as_json)
        if found.broker_problem is not None:
            return EXIT_UNAVAILABLE
        return EXIT_OK if found.all_ready else EXIT_ERROR
    queues = dead_letter_queues(args.queue)
    async with broker(url) as connection:
        if args.verb == "list":
            ops_output.found(await inspect(connection, queues), as_json)
            return EXIT_OK
        if args.verb == "show":
            listed = await inspect(connection, queues)
            matches = [letter for item in listed for letter in item.letters if letter.message_id == args.id]
            if not matches:
                return _not_found(args.id, queues, as_json)
            ops_output.letters(matches, as_json)
            return EXIT_OK
        act = replay if args.verb == "replay" else discard
        results = await act(connection, queues, every if args.all else by_id(args.id))
    return _settled(args, queues, results, as_json)


def _settled(args: argparse.Namespace, queues: list[str], results: list[Settled], as_json: bool) -> int:
    if not args.all and not any(result.done or result.failed for result in results):
        return _not_found(args.id, queues, as_json)
    ops_output.settled(args.verb, results, as_json)
    return EXIT_ERROR if any(result.failed for result in results) else EXIT_OK


def _not_found(message_id: str, queues: list[str], as_json: bool) -> int:
    output.failure(
        "not_found", f"no dead letter with message id {message_id} in {', '.join(queues)}", as_json
    )
    return EXIT_NOT_FOUND


def _in_queue(verb: argparse.ArgumentParser) -> None:
    verb.add_argument("--queue", type=_queue, help="only this queue's dead letters (default: every queue)")


def _queue(name: str) -> str:
    """Checked here so that a typo is a usage error, not an empty answer."""
    try:
        dead_letter_queues(name)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return name
