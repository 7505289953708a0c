"""The read side of transfers through both running services: transfer events committed to the event
store (published by the relay) make the transfer's view, both accounts' histories, the lists and
the CLI's output; and a TransferMoney through the client ends completed on every one of them."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import asyncpg

from cqrs_client.client import CqrsClient
from cqrs_contracts import (
    CreateCustomer,
    Deposit,
    EventEnvelope,
    GetAccountTransactions,
    MoneyDeposited,
    MoneyWithdrawn,
    OpenAccount,
    TransferCompleted,
    TransferDebited,
    TransferFailed,
    TransferLeg,
    TransferRequested,
)
from tests.builders import envelope, insert_events
from tests.e2e.scenarios import accepted
from tests.pair import Cli, Pair


async def _account(client: CqrsClient, deposit: str | None = None) -> tuple[UUID, UUID]:
    """A new customer's new EUR account (with a deposit): (customer id, account id)."""
    customer = await accepted(client, CreateCustomer(name="Transfer", locale="en"))
    account = await accepted(client, OpenAccount(customer_id=customer.id, currency="EUR"))
    if deposit is not None:
        await accepted(client, Deposit(account_id=account.id, amount=deposit))
    return customer.id, account.id


def _requested(
    transfer_id: UUID, source: tuple[UUID, UUID], destination: tuple[UUID, UUID]
) -> TransferRequested:
    return TransferRequested(
        transfer_id=transfer_id,
        from_account_id=source[1],
        to_account_id=destination[1],
        from_customer_id=source[0],
        to_customer_id=destination[0],
        currency="EUR",
        amount=Decimal("30.00"),
        reference="e2e",
    )


async def test_committed_transfer_events_make_the_transfer_view_and_both_histories(
    pair: Pair, client: CqrsClient, cli: Cli
) -> None:
    # Accounts only this test writes to: their later events are committed around the command side.
    source, destination = await _account(client, "100.00"), await _account(client)
    done, stuck = uuid4(), uuid4()
    now = datetime.now(UTC)
    leg = {"transfer_id": done, "step": "debit", "counterpart": destination[1]}
    money = {"currency": "EUR", "amount": Decimal("30.00"), "reference": "e2e"}
    events: list[EventEnvelope] = [
        envelope(_requested(done, source, destination), 1, at=now),
        envelope(
            MoneyWithdrawn(
                account_id=source[1],
                customer_id=source[0],
                balance=Decimal("70.00"),
                transfer=TransferLeg.model_validate(leg),
                **money,
            ),
            3,
            at=now,
        ),
        envelope(TransferDebited(transfer_id=done, withdrawal=uuid4()), 2, at=now),
        envelope(
            MoneyDeposited(
                account_id=destination[1],
                customer_id=destination[0],
                balance=Decimal("30.00"),
                transfer=TransferLeg.model_validate(leg | {"step": "credit", "counterpart": source[1]}),
                **money,
            ),
            2,
            at=now,
        ),
        envelope(TransferCompleted(transfer_id=done, deposit=uuid4()), 3, at=now),
        # Requested ten minutes ago and never taken further: stuck.
        envelope(_requested(stuck, source, destination), 1, at=now - timedelta(minutes=10)),
    ]
    conn = await asyncpg.connect(pair.postgres_dsn)
    try:
        await insert_events(conn, events)  # unpublished: the relay publishes them
    finally:
        await conn.close()

    view = await client.get_transfer(done, min_version=3)
    assert (view.status, view.amount, view.currency, view.reference) == (
        "completed",
        Decimal("30.00"),
        "EUR",
        "e2e",
    )
    assert [step.step for step in view.steps] == ["requested", "debited", "completed"]
    for (_, account), (_, counterpart), kind, version in (
        (source, destination, "withdrawal", 3),
        (destination, source, "deposit", 2),
    ):
        history = await client.ask(
            GetAccountTransactions(account_id=account, token=f"account:{account}@{version}")
        )
        newest = history.items[0]
        assert (newest.kind, newest.transfer_id, newest.counterpart) == (kind, done, counterpart)

    await client.get_transfer(stuck, min_version=1)
    listed = await client.list_transfers(stuck=True, older_than=300, limit=500)
    assert stuck in [item.id for item in listed.items]
    assert done not in [item.id for item in listed.items]
    newest_first = await client.list_transfers(limit=500)
    assert {done, stuck} <= {item.id for item in newest_first.items}

    shown = cli("transfer", "get", str(done))
    assert shown.returncode == 0, shown.stderr
    assert "status     completed" in shown.stdout
    assert "amount     30.00 EUR" in shown.stdout
    as_json = cli("transfer", "list", "--stuck", "--older-than", "300", "--limit", "500", "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert str(stuck) in [item["id"] for item in json.loads(as_json.stdout)["items"]]
    missing = cli("transfer", "get", str(uuid4()))
    assert missing.returncode == 3, missing.stdout

    # It ends (so that the pair has no stuck transfer for the tests after this one), and leaves the list.
    failed = TransferFailed(transfer_id=stuck, reason="given up by the test", refunded=False)
    conn = await asyncpg.connect(pair.postgres_dsn)
    try:
        await insert_events(conn, [envelope(failed, 2, at=datetime.now(UTC))])
    finally:
        await conn.close()
    ended = await client.get_transfer(stuck, min_version=2)
    assert (ended.status, ended.reason, ended.refunded) == ("failed", "given up by the test", False)
    listed = await client.list_transfers(stuck=True, older_than=300, limit=500)
    assert stuck not in [item.id for item in listed.items]


async def test_a_transfer_money_ends_completed_in_the_view_both_histories_and_no_list_of_stuck(
    client: CqrsClient, cli: Cli
) -> None:
    (_, source), (_, destination) = await _account(client, "50.00"), await _account(client)
    sent = await client.transfer(source, destination, "20.00", reference="flow")
    assert sent.stream_type == "transfer"
    view = await client.settled_transfer(sent.id, token=sent.token, within=30)
    assert (view.status, view.refunded, view.amount, view.reference) == (
        "completed",
        False,
        Decimal("20.00"),
        "flow",
    )
    assert [step.step for step in view.steps] == ["requested", "debited", "completed"]
    for account, counterpart, kind in ((source, destination, "withdrawal"), (destination, source, "deposit")):
        history = await client.ask(GetAccountTransactions(account_id=account))
        [item] = [item for item in history.items if item.transfer_id == sent.id]
        assert (item.kind, item.amount, item.counterpart) == (kind, Decimal("20.00"), counterpart)

    waited = cli(
        "transfer", "send", "--from", str(destination), "--to", str(source), "--amount", "5.00", "--wait"
    )
    assert waited.returncode == 0, waited.stdout + waited.stderr
    assert "accepted: transfer " in waited.stdout
    assert "status     completed" in waited.stdout
    too_much = cli(
        "transfer",
        "send",
        "--from",
        str(destination),
        "--to",
        str(source),
        "--amount",
        "99.00",
        "--wait",
        "--json",
    )
    assert too_much.returncode == 5, too_much.stdout + too_much.stderr
    assert json.loads(too_much.stdout)["transfer"]["status"] == "failed"
    stuck = cli("transfer", "list", "--stuck")
    assert (stuck.returncode, stuck.stdout.strip()) == (0, "no stuck transfers (open for more than 60 s)")
