"""``cqrs transfer send|get|list`` (parsed by parsers/transfer.py): through the client's transfer
calls, printed for people or as one JSON document.

send   asks for the transfer and prints the accepted reply; with --wait, waits (with the reply's
       token) until the transfer ends and prints it too: exit 0 when completed, 5 when it failed.
get    one transfer; list: newest first, or --stuck ones.
"""

import argparse
import json
from typing import Any

from cqrs_client.client import CqrsClient
from cqrs_contracts import TransferPage, TransferView
from cqrs_shared.cli import output
from cqrs_shared.cli.exits import EXIT_OK, EXIT_REJECTED


async def run(args: argparse.Namespace, client: CqrsClient, as_json: bool) -> int:
    if args.verb == "get":
        show(await client.get_transfer(args.id, token=",".join(args.after_token)), as_json)
        return EXIT_OK
    if args.verb == "list":
        page = await client.list_transfers(
            stuck=args.stuck, older_than=args.older_than, limit=args.limit, after=args.after
        )
        show(page, as_json, stuck=args.older_than if args.stuck else None)
        return EXIT_OK
    accepted = await client.transfer(
        args.from_account,
        args.to_account,
        args.amount,
        transfer_id=args.id,
        reference=args.reference,
        command_id=args.command_id,
    )
    if args.wait is None:
        output.show(accepted, as_json)
        return EXIT_OK
    ended = await client.settled_transfer(accepted.id, token=accepted.token, within=args.wait)
    if as_json:
        print(
            json.dumps(
                {"accepted": accepted.model_dump(mode="json"), "transfer": ended.model_dump(mode="json")}
            )
        )
    else:
        output.show(accepted, as_json)
        print()
        show(ended, as_json)
    return EXIT_OK if ended.status == "completed" else EXIT_REJECTED


def show(value: TransferView | TransferPage, as_json: bool, stuck: float | None = None) -> None:
    if as_json:
        print(value.model_dump_json())
    elif isinstance(value, TransferView):
        print(transfer_text(value))
    else:
        print(page_text(value, stuck))


def transfer_text(view: TransferView) -> str:
    status = f"{view.status} (refunded)" if view.refunded else view.status
    rows: list[tuple[str, Any]] = [
        ("id", view.id),
        ("from", view.from_account_id),
        ("to", view.to_account_id),
        ("amount", f"{view.amount} {view.currency}"),
        ("reference", view.reference),
        ("status", status),
        *([("reason", view.reason)] if view.reason else []),
        ("version", view.version),
        ("requested", f"{view.requested_at:%Y-%m-%d %H:%M:%S} UTC"),
        ("updated", f"{view.updated_at:%Y-%m-%d %H:%M:%S} UTC"),
    ]
    lines = [f"{label:<10} {value}".rstrip() for label, value in rows]
    for n, step in enumerate(view.steps):
        at = f"{step.at:%Y-%m-%d %H:%M:%S.%f}"[:-3]  # to the millisecond
        lines.append(f"{'steps' if n == 0 else '':<10} {step.step:<10} {at} UTC")
    return "\n".join(lines)


def page_text(page: TransferPage, stuck: float | None) -> str:
    if not page.items:
        return "no transfers" if stuck is None else f"no stuck transfers (open for more than {stuck:g} s)"
    lines = [f"{'ID':<36}  {'STATUS':<9}  {'AMOUNT':>14}  {'REQUESTED':<23}  {'FROM':<36}  TO"]
    for view in page.items:
        amount = f"{view.amount} {view.currency}"
        lines.append(
            f"{view.id!s:<36}  {view.status:<9}  {amount:>14}  {view.requested_at:%Y-%m-%d %H:%M:%S} UTC  "
            f"{view.from_account_id!s:<36}  {view.to_account_id}"
        )
    lines.append(f"({len(page.items)} shown)")
    if page.next:
        lines.append(f"next page: --after {page.next}")
    return "\n".join(lines)
