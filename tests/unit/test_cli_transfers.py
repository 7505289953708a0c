"""`cqrs transfer send|get|list`: what it parses, how it prints a transfer and a page for people,
and that completion knows its verbs and options."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

from cqrs_contracts import TransferPage, TransferStepView, TransferView
from cqrs_shared.cli.completion import nodes
from cqrs_shared.cli.main import parser
from cqrs_shared.cli.transfers import page_text, transfer_text

AT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SOURCE, DESTINATION = uuid4(), uuid4()


def view(status: str = "completed", **changes: object) -> TransferView:
    steps = [
        TransferStepView(step="requested", at=AT),
        TransferStepView(step="debited", at=AT + timedelta(milliseconds=41)),
    ]
    fields = {
        "id": uuid4(),
        "from_account_id": SOURCE,
        "to_account_id": DESTINATION,
        "currency": "EUR",
        "amount": Decimal("12.50"),
        "reference": "rent",
        "status": status,
        "steps": steps,
        "requested_at": AT,
        "updated_at": AT + timedelta(milliseconds=41),
        "version": 2,
    }
    return TransferView.model_validate(fields | changes)


def test_send_parses_both_accounts_the_amount_and_an_optional_wait() -> None:
    base = ["transfer", "send", "--from", str(SOURCE), "--to", str(DESTINATION), "--amount", "12.50"]
    args = parser().parse_args(base)
    assert (args.from_account, args.to_account, args.amount, args.wait, args.id) == (
        SOURCE,
        DESTINATION,
        "12.50",
        None,
        None,
    )
    assert parser().parse_args([*base, "--wait"]).wait == 30.0
    assert parser().parse_args([*base, "--wait", "5"]).wait == 5.0


def test_list_parses_stuck_and_how_old() -> None:
    args = parser().parse_args(["transfer", "list", "--stuck", "--older-than", "120"])
    assert (args.stuck, args.older_than, args.limit, args.after) == (True, 120.0, 50, None)
    assert parser().parse_args(["transfer", "list"]).stuck is False


def test_a_transfer_prints_its_status_amount_and_steps_to_the_millisecond() -> None:
    text = transfer_text(view("debited"))
    assert "amount     12.50 EUR" in text
    assert "status     debited" in text
    assert "steps      requested  2026-11-26 12:00:00.000 UTC" in text
    assert "           debited    2026-11-26 12:00:00.041 UTC" in text
    assert "reason" not in text


def test_a_failed_transfer_says_why_and_whether_it_was_refunded() -> None:
    text = transfer_text(view("failed", refunded=True, reason="the destination account is closed"))
    assert "status     failed (refunded)" in text
    assert "reason     the destination account is closed" in text


def test_an_empty_stuck_list_says_how_old_counts_as_stuck() -> None:
    assert (
        page_text(TransferPage(items=[], next=None), stuck=60)
        == "no stuck transfers (open for more than 60 s)"
    )
    assert page_text(TransferPage(items=[], next=None), stuck=None) == "no transfers"


def test_a_page_has_one_line_per_transfer_and_the_next_cursor() -> None:
    first = view("requested")
    lines = page_text(TransferPage(items=[first], next="abc"), stuck=None).splitlines()
    assert lines[0].split() == ["ID", "STATUS", "AMOUNT", "REQUESTED", "FROM", "TO"]
    assert lines[1].split()[:4] == [str(first.id), "requested", "12.50", "EUR"]
    assert lines[-1] == "next page: --after abc"


def test_completion_knows_the_transfer_verbs_and_their_options() -> None:
    found = {node.path: node for node in nodes(parser())}
    assert set(found["transfer"].verbs) == {"send", "get", "list"}
    assert {"--from", "--to", "--amount", "--wait", "--reference", "--id"} <= set(
        found["transfer send"].options
    )
    assert {"--stuck", "--older-than"} <= set(found["transfer list"].options)
