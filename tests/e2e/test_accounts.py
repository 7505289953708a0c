"""Bank accounts through both running services: money, concurrency, tokens, the customer view."""

import json
from decimal import Decimal
from uuid import uuid4

import asyncpg

from cqrs_client.client import CqrsClient
from cqrs_client.messaging import topology
from cqrs_contracts import (
    CreateCustomer,
    Deposit,
    EditCustomerDetails,
    GetAccount,
    GetAccountTransactions,
    GetCustomer,
    OpenAccount,
)
from tests.e2e.raw import raw_channel
from tests.e2e.scenarios import accepted, fifty_withdrawals_from_300
from tests.pair import Cli, Pair
from tests.scrape import metric


async def test_fifty_concurrent_withdrawals_never_overdraw(pair: Pair, client: CqrsClient) -> None:
    together = "cqrs_commands_together_sum"
    before = await metric(pair.command.url, together, result="together")
    race = await fifty_withdrawals_from_300(client)
    customer, account = race.owner, race.account
    # Those that queued for the account went together (stream_commands.py), refusals among them:
    # the exact count of winners and versions above holds all the same.
    assert await metric(pair.command.url, together, result="together") > before

    conn = await asyncpg.connect(pair.postgres_dsn)
    try:
        balance = await conn.fetchval(
            "SELECT state->>'balance' FROM streams WHERE stream_id = $1", account.id
        )
    finally:
        await conn.close()
    assert balance == "0.00"
    view = await client.ask(GetAccount(account_id=account.id, min_version=32))
    assert (str(view.balance), view.version) == ("0.00", 32)
    owner = await client.ask(GetCustomer(customer_id=customer.id, token=f"account:{account.id}@32"))
    assert [str(a.balance) for a in owner.accounts] == ["0.00"]
    history = await client.ask(GetAccountTransactions(account_id=account.id, limit=500))
    assert len(history.items) == 31
    assert sum(t.amount for t in history.items if t.kind == "withdrawal") == Decimal("300.00")


async def test_a_token_of_several_streams_reads_all_the_writes(client: CqrsClient) -> None:
    customer = await accepted(client, CreateCustomer(name="Token", locale="en"))
    account = await accepted(client, OpenAccount(customer_id=customer.id, currency="JPY"))
    deposit = await accepted(client, Deposit(account_id=account.id, amount="1500"))
    renamed = await accepted(client, EditCustomerDetails(customer_id=customer.id, name="Token Two"))
    view = await client.ask(GetCustomer(customer_id=customer.id, token=f"{deposit.token},{renamed.token}"))
    assert (view.name, view.version) == ("Token Two", 2)
    assert [(a.currency, str(a.balance), a.version) for a in view.accounts] == [("JPY", "1500", 2)]
    assert {k: str(v) for k, v in view.totals.items()} == {"JPY": "1500"}


async def test_amounts_must_be_strings_on_the_wire(pair: Pair) -> None:
    body = json.dumps({"type": "Deposit", "account_id": str(uuid4()), "amount": 10.5}).encode()
    async with raw_channel(pair.env["CQRS_RABBITMQ_URL"]) as raw:
        sent = await raw.publish(
            body, exchange=topology.COMMANDS_EXCHANGE, routing_key="Deposit", message_id=str(uuid4())
        )
        reply = await raw.reply(sent)
    assert reply["error"]["code"] == "validation_error"
    assert "decimal string" in reply["error"]["fields"]["amount"]


def test_a_session_with_two_accounts_through_the_cli(cli: Cli) -> None:
    customer = json.loads(cli("--json", "customer", "create", "--name", "Ada", "--locale", "en-GB").stdout)[
        "id"
    ]
    eur = json.loads(cli("--json", "account", "open", customer).stdout)
    usd = json.loads(cli("--json", "account", "open", customer, "--currency", "usd").stdout)
    assert cli("account", "deposit", eur["id"], "300").returncode == 0
    withdrawn = json.loads(cli("--json", "account", "withdraw", eur["id"], "10.50").stdout)
    deposited = json.loads(cli("--json", "account", "deposit", usd["id"], "15").stdout)
    assert (withdrawn["version"], withdrawn["token"]) == (3, f"account:{eur['id']}@3")

    too_much = cli("--json", "account", "withdraw", usd["id"], "15.01")
    assert too_much.returncode == 5
    assert json.loads(too_much.stdout)["error"]["code"] == "insufficient_funds"
    bad = cli("account", "deposit", usd["id"], "1.005")
    assert bad.returncode == 5
    assert "amount:" in bad.stderr

    shown = cli(
        "--json",
        "customer",
        "get",
        customer,
        "--after-token",
        withdrawn["token"],
        "--after-token",
        deposited["token"],
    )
    view = json.loads(shown.stdout)
    assert {a["currency"]: a["balance"] for a in view["accounts"]} == {"EUR": "289.50", "USD": "15.00"}
    assert view["totals"] == {"EUR": "289.50", "USD": "15.00"}
    people = cli("customer", "get", customer, "--after-token", withdrawn["token"])
    assert "total      289.50 EUR, 15.00 USD" in people.stdout

    history = json.loads(cli("--json", "account", "history", eur["id"], "--limit", "1").stdout)
    assert [(t["kind"], t["amount"], t["balance_after"]) for t in history["items"]] == [
        ("withdrawal", "10.50", "289.50")
    ]
    older = json.loads(cli("--json", "account", "history", eur["id"], "--after", history["next"]).stdout)
    assert [(t["kind"], t["amount"]) for t in older["items"]] == [("deposit", "300.00")]
    assert older["next"] is None

    got = json.loads(cli("--json", "account", "get", usd["id"], "--min-version", "2").stdout)
    assert (got["balance"], got["currency"], got["customer_id"]) == ("15.00", "USD", customer)
    assert cli("account", "open", str(uuid4())).returncode == 3
    assert cli("account", "get", str(uuid4())).returncode == 3
