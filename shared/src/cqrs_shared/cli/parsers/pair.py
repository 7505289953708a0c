"""The parsers of ``cqrs customer ...`` and ``cqrs account ...``: the pair's commands and queries.

cli/requests.py turns what they parse into the contracts' messages.
"""

import argparse
from uuid import UUID

from cqrs_shared.cli.parsers.common import Areas, CliParser

AREAS = ("customer", "account")
_COMMAND_ID = "idempotency key: the same key sends the same command once (default: a new one)"


def add_parsers(areas: Areas, common: CliParser) -> None:
    _customer_verbs(
        areas.add_parser("customer", parents=[common], help="customers: commands and queries"), common
    )
    _account_verbs(
        areas.add_parser("account", parents=[common], help="bank accounts: commands and queries"), common
    )


def _customer_verbs(customer: argparse.ArgumentParser, common: CliParser) -> None:
    verbs = customer.add_subparsers(dest="verb", required=True)
    create = verbs.add_parser("create", parents=[common], help="create a customer")
    create.add_argument("--name", required=True, help="the customer's name")
    create.add_argument("--locale", required=True, help="a BCP 47 language tag, e.g. en-GB")
    create.add_argument("--id", type=UUID, help="the customer id (default: derived from the command id)")
    create.add_argument("--command-id", type=UUID, help=_COMMAND_ID)

    _target(verbs.add_parser("make-preferred", parents=[common], help="mark a customer as preferred"))
    locale = verbs.add_parser("change-locale", parents=[common], help="change a customer's locale")
    _target(locale)
    locale.add_argument("locale", help="the new locale, a BCP 47 language tag such as pt-BR")
    edit = verbs.add_parser("edit", parents=[common], help="edit a customer's name and/or locale")
    _target(edit)
    edit.add_argument("--name", help="the new name (default: unchanged)")
    edit.add_argument("--locale", help="the new locale, a BCP 47 language tag (default: unchanged)")

    get = verbs.add_parser("get", parents=[common], help="show one customer with accounts and totals")
    get.add_argument("id", type=UUID, help="customer id")
    _consistency(get)
    find = verbs.add_parser("find", parents=[common], help="customers with this name (any case)")
    find.add_argument("name", help="the name to look for, whole (any case)")
    _paging(find)
    preferred = verbs.add_parser("preferred", parents=[common], help="preferred customers")
    _paging(preferred)


def _account_verbs(account: argparse.ArgumentParser, common: CliParser) -> None:
    verbs = account.add_subparsers(dest="verb", required=True)
    opened = verbs.add_parser("open", parents=[common], help="open an account for a customer")
    opened.add_argument("customer_id", type=UUID, help="the id of the customer who owns it")
    opened.add_argument("--currency", default="EUR", help="ISO 4217 code (default EUR)")
    opened.add_argument("--id", type=UUID, help="the account id (default: derived from the command id)")
    opened.add_argument("--command-id", type=UUID, help=_COMMAND_ID)
    for name, helptext in (("deposit", "put money in"), ("withdraw", "take money out (never below zero)")):
        move = verbs.add_parser(name, parents=[common], help=helptext)
        move.add_argument("id", type=UUID, help="account id")
        move.add_argument("amount", help="a positive decimal in the account's currency, such as 10.00")
        move.add_argument("--expected-version", type=int, help="reject if the account is not at this version")
        move.add_argument("--reference", default="", help="your words for it (at most 140 characters)")
        move.add_argument("--command-id", type=UUID, help=_COMMAND_ID)
    get = verbs.add_parser("get", parents=[common], help="balance and owner of an account")
    get.add_argument("id", type=UUID, help="account id")
    _consistency(get)
    history = verbs.add_parser("history", parents=[common], help="transactions, newest first")
    history.add_argument("id", type=UUID, help="account id")
    _paging(history)
    _after_token(history)


def _consistency(verb: argparse.ArgumentParser) -> None:
    verb.add_argument(
        "--min-version", type=int, metavar="N", help="wait until the view has at least this version"
    )
    _after_token(verb)


def _after_token(verb: argparse.ArgumentParser) -> None:
    verb.add_argument(
        "--after-token",
        action="append",
        default=[],
        metavar="TOKEN",
        help="wait until the view has these writes (the token of a command reply; repeatable)",
    )


def _target(verb: argparse.ArgumentParser) -> None:
    verb.add_argument("id", type=UUID, help="customer id")
    verb.add_argument("--expected-version", type=int, help="reject if the customer is not at this version")
    verb.add_argument("--command-id", type=UUID, help=_COMMAND_ID)


def _paging(verb: argparse.ArgumentParser) -> None:
    verb.add_argument(
        "--limit", type=int, default=50, metavar="N", help="items per page (default %(default)s)"
    )
    verb.add_argument("--after", metavar="CURSOR", help="the 'next' cursor of the previous page")
