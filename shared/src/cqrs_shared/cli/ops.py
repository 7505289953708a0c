"""The operator's verbs of ``cqrs``: ``dlq list|show|replay|discard`` and ``status``, run here
(parsed by parsers/ops.py). The work is done by messaging/dlq.py and status.py, the printing by
ops_output.py.
"""

import argparse

from cqrs_shared.cli import ops_output
from cqrs_shared.cli.configuration import read
from cqrs_shared.cli.exits import EXIT_ERROR, EXIT_NOT_FOUND, EXIT_OK, EXIT_UNAVAILABLE
from cqrs_shared.cli.report import failure
from cqrs_shared.cli.status import StatusSettings, collect
from cqrs_shared.messaging.dlq import (
    Settled,
    broker,
    by_id,
    dead_letter_queues,
    discard,
    every,
    inspect,
    replay,
)


async def run(args: argparse.Namespace, url: str, as_json: bool, timeout: float) -> int:
    """``timeout`` bounds the wait for the broker's connection; for status, each passive declare and
    HTTP answer too."""
    if args.area == "status":
        found = await collect(read(StatusSettings), timeout)
        ops_output.status(found, as_json)
        if found.broker_problem is not None:
            return EXIT_UNAVAILABLE
        return EXIT_OK if found.all_ready else EXIT_ERROR
    queues = dead_letter_queues(args.queue)
    async with broker(url, timeout) as connection:
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
    failure("not_found", f"no dead letter with message id {message_id} in {', '.join(queues)}", as_json)
    return EXIT_NOT_FOUND
