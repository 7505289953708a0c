"""The parser of ``cqrs transfer send|get|list``: money between two accounts; cli/transfers.py runs it."""

import argparse
from uuid import UUID

from cqrs_shared.cli.parsers.common import Areas, CliParser

AREA = "transfer"
# How long ``send --wait`` waits for the transfer to end, when not told.
WAIT_SECONDS = 30.0


def add_parsers(areas: Areas, common: CliParser) -> None:
    area = areas.add_parser(AREA, parents=[common], help="money transfers between two accounts")
    verbs = area.add_subparsers(dest="verb", required=True)
    send = verbs.add_parser("send", parents=[common], help="move money from one account to another")
    send.add_argument("--from", dest="from_account", type=UUID, required=True, help="the source account's id")
    send.add_argument(
        "--to", dest="to_account", type=UUID, required=True, help="the destination account's id"
    )
    send.add_argument(
        "--amount", required=True, help="a positive decimal in the accounts' currency, such as 10.00"
    )
    send.add_argument("--id", type=UUID, help="the transfer id (default: derived from the command id)")
    send.add_argument("--reference", default="", help="your words for it (at most 140 characters)")
    send.add_argument(
        "--command-id", type=UUID, help="idempotency key: the same key sends the same command once"
    )
    send.add_argument(
        "--wait",
        type=float,
        nargs="?",
        const=WAIT_SECONDS,
        metavar="SECONDS",
        help=f"wait until the transfer ends and print it (at most SECONDS, default {WAIT_SECONDS:g})",
    )
    get = verbs.add_parser("get", parents=[common], help="one transfer: status, steps, times")
    get.add_argument("id", type=UUID, help="transfer id")
    get.add_argument(
        "--after-token",
        action="append",
        default=[],
        metavar="TOKEN",
        help="wait until the view has these writes (the token of a command reply; repeatable)",
    )
    listed = verbs.add_parser("list", parents=[common], help="transfers, newest first")
    listed.add_argument(
        "--stuck",
        action="store_true",
        help="only those not ended --older-than seconds after they were requested",
    )
    listed.add_argument(
        "--older-than",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="with --stuck: how long a transfer may take (default %(default)g)",
    )
    _paging(listed)


def _paging(verb: argparse.ArgumentParser) -> None:
    verb.add_argument(
        "--limit", type=int, default=50, metavar="N", help="items per page (default %(default)s)"
    )
    verb.add_argument("--after", metavar="CURSOR", help="the 'next' cursor of the previous page")
