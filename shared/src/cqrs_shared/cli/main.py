"""``cqrs``: the pair's command line. Talks to the services through RabbitMQ (and ``status`` to their HTTP).

Prints for people by default and one JSON document with ``--json``. Exit codes: 0 done,
2 rejected, 3 not found, 4 timeout or broker unavailable, 1 anything else.
"""

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from uuid import UUID

from aiormq.exceptions import ChannelAccessRefused
from pydantic import ValidationError

from cqrs_shared.cli import broker as cli_broker
from cqrs_shared.cli import ops as cli_ops
from cqrs_shared.cli import output
from cqrs_shared.cli import projection as cli_projection
from cqrs_shared.cli.ops import EXIT_ERROR, EXIT_NOT_FOUND, EXIT_OK, EXIT_REJECTED, EXIT_UNAVAILABLE
from cqrs_shared.client import DEFAULT_TIMEOUT, CqrsClient
from cqrs_shared.contracts import (
    ChangeCustomerLocale,
    CommandRejected,
    Contract,
    CreateCustomer,
    Deposit,
    EditCustomerDetails,
    ErrorCode,
    ErrorInfo,
    GetAccount,
    GetAccountTransactions,
    GetCustomer,
    GetCustomersWithName,
    GetPreferredCustomers,
    MakeCustomerPreferred,
    OpenAccount,
    Withdraw,
)
from cqrs_shared.contracts.base import Answered
from cqrs_shared.errors import BrokerUnavailable, RemoteError, ReplayRefused, RequestTimeout
from cqrs_shared.messaging.parsing import field_errors
from cqrs_shared.runtime.settings import BrokerSettings, load

_EXIT_BY_CODE = {
    ErrorCode.NOT_FOUND: EXIT_NOT_FOUND,
    ErrorCode.VIEW_BEHIND: EXIT_UNAVAILABLE,
    ErrorCode.INTERNAL_ERROR: EXIT_ERROR,
}


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON document"
    )
    common.add_argument(
        "--timeout",
        type=float,
        default=argparse.SUPPRESS,
        metavar="SECONDS",
        help=f"how long to wait for a reply (default {DEFAULT_TIMEOUT:g})",
    )
    parser = argparse.ArgumentParser(prog="cqrs", parents=[common], description=__doc__.splitlines()[0])
    areas = parser.add_subparsers(dest="area", required=True)
    customer = areas.add_parser("customer", parents=[common], help="customers: commands and queries")
    verbs = customer.add_subparsers(dest="verb", required=True)

    create = verbs.add_parser("create", parents=[common], help="create a customer")
    create.add_argument("--name", required=True)
    create.add_argument("--locale", required=True, help="BCP 47 tag, e.g. en-GB")
    create.add_argument("--id", type=UUID, help="the customer id (default: derived from the command id)")
    create.add_argument("--command-id", type=UUID, help="idempotency key (default: random)")

    _target(verbs.add_parser("make-preferred", parents=[common], help="mark a customer as preferred"))
    locale = verbs.add_parser("change-locale", parents=[common], help="change a customer's locale")
    _target(locale)
    locale.add_argument("locale")
    edit = verbs.add_parser("edit", parents=[common], help="edit a customer's name and/or locale")
    _target(edit)
    edit.add_argument("--name")
    edit.add_argument("--locale")

    get = verbs.add_parser("get", parents=[common], help="show one customer with accounts and totals")
    get.add_argument("id", type=UUID)
    _consistency(get)
    find = verbs.add_parser("find", parents=[common], help="customers with this name (any case)")
    find.add_argument("name")
    _paging(find)
    preferred = verbs.add_parser("preferred", parents=[common], help="preferred customers")
    _paging(preferred)
    _account_verbs(
        areas.add_parser("account", parents=[common], help="bank accounts: commands and queries"), common
    )
    cli_ops.add_parsers(areas, common)
    cli_projection.add_parsers(areas, common)
    cli_broker.add_parsers(areas, common)
    return parser


def _account_verbs(account: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    verbs = account.add_subparsers(dest="verb", required=True)
    opened = verbs.add_parser("open", parents=[common], help="open an account for a customer")
    opened.add_argument("customer_id", type=UUID)
    opened.add_argument("--currency", default="EUR", help="ISO 4217 code (default EUR)")
    opened.add_argument("--id", type=UUID, help="the account id (default: derived from the command id)")
    opened.add_argument("--command-id", type=UUID, help="idempotency key (default: random)")
    for name, helptext in (("deposit", "put money in"), ("withdraw", "take money out (never below zero)")):
        move = verbs.add_parser(name, parents=[common], help=helptext)
        move.add_argument("id", type=UUID, help="account id")
        move.add_argument("amount", help="a decimal such as 10.00")
        move.add_argument("--expected-version", type=int, help="reject if the account is not at this version")
        move.add_argument("--reference", default="", help="your words for it (at most 140 characters)")
        move.add_argument("--command-id", type=UUID, help="idempotency key (default: random)")
    get = verbs.add_parser("get", parents=[common], help="balance and owner of an account")
    get.add_argument("id", type=UUID)
    _consistency(get)
    history = verbs.add_parser("history", parents=[common], help="transactions, newest first")
    history.add_argument("id", type=UUID)
    _paging(history)
    history.add_argument(
        "--after-token",
        action="append",
        default=[],
        metavar="TOKEN",
        help="wait until the view has these writes (the token of a command reply)",
    )


def _consistency(verb: argparse.ArgumentParser) -> None:
    verb.add_argument("--min-version", type=int, help="wait until the view has at least this version")
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
    verb.add_argument("--command-id", type=UUID, help="idempotency key (default: random)")


def _paging(verb: argparse.ArgumentParser) -> None:
    verb.add_argument("--limit", type=int, default=50)
    verb.add_argument("--after", help="the 'next' cursor of the previous page")


def _message(args: argparse.Namespace) -> Contract:
    """The command or query the arguments ask for (pydantic validates it here already)."""
    if args.area == "account":
        return _account_message(args)
    verb = args.verb
    if verb == "create":
        return CreateCustomer(customer_id=args.id, name=args.name, locale=args.locale)
    if verb == "make-preferred":
        return MakeCustomerPreferred(customer_id=args.id, expected_version=args.expected_version)
    if verb == "change-locale":
        return ChangeCustomerLocale(
            customer_id=args.id, locale=args.locale, expected_version=args.expected_version
        )
    if verb == "edit":
        return EditCustomerDetails(
            customer_id=args.id, name=args.name, locale=args.locale, expected_version=args.expected_version
        )
    if verb == "get":
        return GetCustomer(
            customer_id=args.id, min_version=args.min_version, token=",".join(args.after_token)
        )
    if verb == "find":
        return GetCustomersWithName(name=args.name, limit=args.limit, after=args.after)
    return GetPreferredCustomers(limit=args.limit, after=args.after)


def _account_message(args: argparse.Namespace) -> Contract:
    verb = args.verb
    if verb == "open":
        return OpenAccount(account_id=args.id, customer_id=args.customer_id, currency=args.currency)
    if verb == "deposit":
        return Deposit(
            account_id=args.id,
            amount=args.amount,
            expected_version=args.expected_version,
            reference=args.reference,
        )
    if verb == "withdraw":
        return Withdraw(
            account_id=args.id,
            amount=args.amount,
            expected_version=args.expected_version,
            reference=args.reference,
        )
    token = ",".join(args.after_token)
    if verb == "get":
        return GetAccount(account_id=args.id, min_version=args.min_version, token=token)
    return GetAccountTransactions(account_id=args.id, limit=args.limit, after=args.after, token=token)


async def _run(args: argparse.Namespace, url: str, as_json: bool, timeout: float) -> int:
    if args.area == cli_projection.AREA:
        async with CqrsClient.connect(url, timeout=timeout) as client:
            return await cli_projection.run(args, client, as_json)
    message = _message(args)
    async with CqrsClient.connect(url, timeout=timeout) as client:
        if isinstance(message, Answered):  # a query: its answer's type is its own
            output.show(await client.ask(message), as_json)
            return EXIT_OK
        reply = await client.send(message, command_id=args.command_id)
        output.show(reply, as_json)
        if isinstance(reply, CommandRejected):
            return _EXIT_BY_CODE.get(reply.error.code, EXIT_REJECTED)
        return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # The CLI reports failures itself, once, in its own words; library logs would repeat them.
    logging.disable(logging.ERROR)
    as_json: bool = getattr(args, "json", False)
    timeout: float = getattr(args, "timeout", DEFAULT_TIMEOUT)
    if args.area == cli_broker.AREA:  # provisioning: needs no broker
        return cli_broker.run(args)
    url = str(load(BrokerSettings).rabbitmq_url)
    try:
        if args.area in cli_ops.AREAS:
            return asyncio.run(cli_ops.run(args, url, as_json))
        return asyncio.run(_run(args, url, as_json, timeout))
    except ValidationError as error:
        info = ErrorInfo(
            code=ErrorCode.VALIDATION_ERROR, message="invalid arguments", fields=field_errors(error)
        )
        output.show(CommandRejected(command_id=None, error=info), as_json)
        return EXIT_REJECTED
    except RemoteError as error:
        output.error(error.info, as_json)
        return _EXIT_BY_CODE.get(error.info.code, EXIT_REJECTED)
    except (RequestTimeout, BrokerUnavailable) as error:
        code = "timeout" if isinstance(error, RequestTimeout) else "broker_unavailable"
        output.failure(code, str(error), as_json)
        return EXIT_UNAVAILABLE
    except ReplayRefused as error:
        output.failure("replay_refused", str(error), as_json)
        return EXIT_REJECTED
    except ChannelAccessRefused as error:  # this URL's user may not (README: Users and permissions)
        why = f"{error} (cqrs {args.area} needs more than this user's permissions; operators: the admin role)"
        output.failure("access_refused", why, as_json)
        return EXIT_REJECTED
    except KeyboardInterrupt:
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
