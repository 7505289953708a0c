"""A command id names one command of one sender: its repeat is answered, its reuse is refused."""

import json
from typing import Any
from urllib.parse import unquote, urlsplit
from uuid import uuid4

import asyncpg

from cqrs_client.messaging import topology
from tests.e2e.raw import Raw, raw_channel
from tests.pair import Pair


async def command(
    raw: Raw, body: dict[str, str], command_id: str, user_id: str | None = None
) -> dict[str, Any]:
    """The reply to ``body`` published as command ``command_id`` (as ``user_id``, when given)."""
    sent = await raw.publish(
        json.dumps(body).encode(),
        exchange=topology.COMMANDS_EXCHANGE,
        routing_key=body["type"],
        message_id=command_id,
        type_=body["type"],
        user_id=user_id,
    )
    return await raw.reply(sent)


async def test_a_command_id_reused_by_another_command_is_refused_and_applies_nothing(pair: Pair) -> None:
    command_id, account_id = str(uuid4()), str(uuid4())
    create = {"type": "CreateCustomer", "name": "Reused", "locale": "en"}
    async with raw_channel(pair.env["CQRS_RABBITMQ_URL"]) as raw:
        created = await command(raw, create, command_id)
        customer_id = created["id"]
        open_account = {"type": "OpenAccount", "account_id": account_id, "customer_id": customer_id}
        reused = await command(raw, open_account, command_id)
        repeated = await command(raw, create, command_id)
    assert created["status"] == "accepted"
    assert reused["status"] == "rejected"
    assert reused["command_id"] == command_id
    assert reused["error"]["code"] == "concurrency_conflict"
    assert "already names another command (CreateCustomer, not OpenAccount)" in reused["error"]["message"]
    assert repeated == created
    conn = await asyncpg.connect(pair.postgres_dsn)
    try:
        applied = await conn.fetchval(
            "SELECT (SELECT count(*) FROM streams WHERE stream_id = $1)"
            " + (SELECT count(*) FROM events WHERE stream_id = $1)",
            account_id,
        )
        owned = await conn.fetchval("SELECT owned FROM streams WHERE stream_id = $1", customer_id)
    finally:
        await conn.close()
    assert (applied, owned) == (0, 0)


async def test_a_command_id_reused_without_its_senders_user_id_is_refused(pair: Pair) -> None:
    url = pair.env["CQRS_RABBITMQ_URL"]
    user = unquote(urlsplit(url).username or "")
    command_id = str(uuid4())
    create = {"type": "CreateCustomer", "name": "Signed", "locale": "en"}
    async with raw_channel(url) as raw:
        created = await command(raw, create, command_id, user_id=user)
        unsigned = await command(raw, create, command_id)
        signed = await command(raw, create, command_id, user_id=user)
    assert created["status"] == "accepted"
    assert unsigned["error"]["code"] == "concurrency_conflict"
    assert unsigned["error"]["message"].endswith("already names another sender's command")
    assert signed == created
