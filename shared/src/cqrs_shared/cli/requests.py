"""``cqrs customer ...`` and ``cqrs account ...``: the arguments as the contracts' message, sent or
asked over RabbitMQ, the answer printed (pydantic validates the message as it is built)."""

import argparse
from typing import Any

from cqrs_client.client import CqrsClient
from cqrs_contracts import (
    ChangeCustomerLocale,
    Command,
    CommandRejected,
    CreateCustomer,
    Deposit,
    EditCustomerDetails,
    ErrorCode,
    GetAccount,
    GetAccountTransactions,
    GetCustomer,
    GetCustomersWithName,
    GetPreferredCustomers,
    MakeCustomerPreferred,
    OpenAccount,
    Query,
    Withdraw,
)
from cqrs_contracts.base import Answered
from cqrs_shared.cli import output
from cqrs_shared.cli.exits import EXIT_ERROR, EXIT_NOT_FOUND, EXIT_OK, EXIT_REJECTED, EXIT_UNAVAILABLE

# An error reply's code that has an exit code of its own; any other is a rejection.
EXIT_BY_CODE = {
    ErrorCode.NOT_FOUND: EXIT_NOT_FOUND,
    ErrorCode.VIEW_BEHIND: EXIT_UNAVAILABLE,
    ErrorCode.INTERNAL_ERROR: EXIT_ERROR,
}


def exit_code(code: ErrorCode) -> int:
    return EXIT_BY_CODE.get(code, EXIT_REJECTED)


async def run(args: argparse.Namespace, message: Command | Query, client: CqrsClient, as_json: bool) -> int:
    """Send ``message`` (built by ``message``, before connecting) or ask it, and print the answer."""
    if isinstance(message, Answered):  # a query: its answer's type is its own, any of the queries'
        query: Answered[Any] = message
        output.show(await client.ask(query), as_json)
        return EXIT_OK
    reply = await client.send(message, command_id=args.command_id)
    output.show(reply, as_json)
    if isinstance(reply, CommandRejected):
        return exit_code(reply.error.code)
    return EXIT_OK


def message(args: argparse.Namespace) -> Command | Query:
    """The command or query the arguments ask for; pydantic's ValidationError if they are invalid."""
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


def _account_message(args: argparse.Namespace) -> Command | Query:
    verb = args.verb
    if verb == "open":
        return OpenAccount(account_id=args.id, customer_id=args.customer_id, currency=args.currency)
    if verb in ("deposit", "withdraw"):
        move = Deposit if verb == "deposit" else Withdraw
        return move(
            account_id=args.id,
            amount=args.amount,
            expected_version=args.expected_version,
            reference=args.reference,
        )
    token = ",".join(args.after_token)
    if verb == "get":
        return GetAccount(account_id=args.id, min_version=args.min_version, token=token)
    return GetAccountTransactions(account_id=args.id, limit=args.limit, after=args.after, token=token)
