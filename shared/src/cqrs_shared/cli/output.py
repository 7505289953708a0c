"""How the CLI prints: short lines and tables for people, one JSON document for scripts."""

import sys
from typing import Any

from cqrs_contracts import (
    AccountView,
    CommandAccepted,
    CommandRejected,
    Contract,
    CustomerPage,
    CustomerView,
    ErrorInfo,
    TransactionPage,
)
from cqrs_contracts.replies import QueryFailed


def show(value: Contract, as_json: bool) -> None:
    if as_json:
        print(value.model_dump_json())
    elif isinstance(value, CommandAccepted):
        print(f"accepted: {value.stream_type} {value.id} is at version {value.version}")
        print(f"token:    {value.token}")
    elif isinstance(value, CommandRejected):
        _rejected(value.error)
    elif isinstance(value, CustomerView):
        print(_customer(value))
    elif isinstance(value, CustomerPage):
        print(_table(value))
    elif isinstance(value, AccountView):
        print(_account(value))
    elif isinstance(value, TransactionPage):
        print(_history(value))
    else:
        print(value.model_dump_json(indent=2))


def error(info: ErrorInfo, as_json: bool) -> None:
    """A query's error reply (a command's rejection prints through ``show``)."""
    if as_json:
        print(QueryFailed(error=info).model_dump_json())
        return
    _rejected(info)


def _rejected(info: ErrorInfo) -> None:
    print(f"rejected: {info.code}: {info.message}", file=sys.stderr)
    for field, message in info.fields.items():
        print(f"  {field}: {message}", file=sys.stderr)


def _customer(view: CustomerView) -> str:
    rows: list[tuple[str, Any]] = [
        ("id", view.id),
        ("name", view.name),
        ("locale", view.locale),
        ("preferred", "yes" if view.is_preferred else "no"),
        ("version", view.version),
        ("created", f"{view.created_at:%Y-%m-%d %H:%M:%S} UTC"),
        ("updated", f"{view.updated_at:%Y-%m-%d %H:%M:%S} UTC"),
        ("accounts", len(view.accounts)),
    ]
    lines = [f"{label:<10} {value}" for label, value in rows]
    lines += [f"  {a.id}  {a.balance:>14} {a.currency}  (version {a.version})" for a in view.accounts]
    if view.totals:
        totals = ", ".join(f"{amount} {currency}" for currency, amount in sorted(view.totals.items()))
        lines.append(f"{'total':<10} {totals}")
    return "\n".join(lines)


def _account(view: AccountView) -> str:
    rows: list[tuple[str, Any]] = [
        ("id", view.id),
        ("customer", view.customer_id),
        ("balance", f"{view.balance} {view.currency}"),
        ("version", view.version),
        ("opened", f"{view.opened_at:%Y-%m-%d %H:%M:%S} UTC"),
        ("updated", f"{view.updated_at:%Y-%m-%d %H:%M:%S} UTC"),
    ]
    return "\n".join(f"{label:<10} {value}" for label, value in rows)


def _history(page: TransactionPage) -> str:
    if not page.items:
        return "no transactions"
    lines = [f"{'VERSION':>7}  {'KIND':<10}  {'AMOUNT':>14}  {'BALANCE':>14}  {'AT':<23}  REFERENCE"]
    for item in page.items:
        reference = item.reference
        if item.transfer_id is not None:  # a step of a transfer: with the other account
            way = "to" if item.kind == "withdrawal" else "from"
            reference = f"{reference} [transfer {item.transfer_id} {way} {item.counterpart}]".lstrip()
        lines.append(
            f"{item.version:>7}  {item.kind:<10}  {item.amount:>14}  {item.balance_after:>14}  "
            f"{item.at:%Y-%m-%d %H:%M:%S} UTC  {reference}".rstrip()
        )
    if page.next:
        lines.append(f"next page: --after {page.next}")
    return "\n".join(lines)


def _table(page: CustomerPage) -> str:
    if not page.items:
        return "no customers"
    lines = [f"{'ID':<36}  {'NAME':<24}  {'LOCALE':<10}  PREF  VERSION"]
    for view in page.items:
        pref = "yes" if view.is_preferred else "no"
        lines.append(f"{view.id!s:<36}  {view.name[:24]:<24}  {view.locale:<10}  {pref:<4}  {view.version}")
    lines.append(f"({len(page.items)} shown)")
    if page.next:
        lines.append(f"next page: --after {page.next}")
    return "\n".join(lines)
