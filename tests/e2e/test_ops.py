"""The operator's tools, `cqrs dlq` and `cqrs status`, on the real pair.

The dead-letter queues are shared by every e2e test of the session: each test finds its own
messages by their message ids and never assumes a queue was empty before it.
"""

import asyncio
import base64
import json
import subprocess
from typing import Any
from uuid import uuid4

from cqrs_client.client import CqrsClient
from cqrs_client.messaging import topology
from cqrs_contracts import GetCustomer
from tests.e2e.raw import Raw, raw_channel
from tests.pair import Cli, Pair
from tests.waiting import until

COMMAND_DLQ = topology.dead_letter_queue(topology.COMMAND_QUEUE)
QUERY_DLQ = topology.dead_letter_queue(topology.QUERY_QUEUE)
ALL_QUEUES = [
    name
    for queue in (
        topology.COMMAND_QUEUE,
        topology.STREAM_QUEUE,
        topology.TRANSFER_QUEUE,
        topology.EVENT_QUEUE,
        topology.QUERY_QUEUE,
        topology.OPERATIONS_QUEUE,
    )
    for name in (queue, topology.dead_letter_queue(queue))
]


async def run(cli: Cli, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a thread, so that this loop's connections stay served meanwhile."""
    done = await asyncio.to_thread(cli, *args)
    assert "Traceback" not in done.stderr, done.stderr
    return done


async def listed(cli: Cli, queue: str) -> dict[str, dict[str, Any]]:
    """The dead letters of ``queue`` by message id."""
    done = await run(cli, "dlq", "list", queue, "--json")
    assert done.returncode == 0, done.stderr
    [found] = json.loads(done.stdout)["queues"]
    return {letter["message_id"]: letter for letter in found["letters"]}


async def wait_listed(cli: Cli, queue: str, *message_ids: str) -> dict[str, dict[str, Any]]:
    async def probe() -> dict[str, dict[str, Any]] | None:
        letters = await listed(cli, queue)
        return letters if set(message_ids) <= set(letters) else None

    return await until(probe, timeout=20, what=f"{message_ids} in {queue}")


async def fake_dead_letter(raw: Raw, body: bytes, message_id: str, *, reply: bool = False) -> str:
    """Put ``body`` straight into the command dead-letter queue, as the service would have."""
    return await raw.publish(
        body,
        routing_key=COMMAND_DLQ,
        message_id=message_id,
        type_="CreateCustomer",
        reply=reply,
        headers={
            "x-error-code": "internal_error",
            "x-error-message": "OperationFailure: made up by the test",
            "x-original-queue": topology.COMMAND_QUEUE,
            "x-original-routing-key": "CreateCustomer",
        },
    )


async def test_a_bad_command_without_reply_to_is_listed_shown_and_discarded_by_id(
    pair: Pair, cli: Cli
) -> None:
    body = b"\x00\x01garbage " + uuid4().hex.encode()
    message_id = str(uuid4())
    async with raw_channel(pair.env["CQRS_RABBITMQ_URL"]) as raw:
        await raw.publish(
            body, exchange=topology.COMMANDS_EXCHANGE, routing_key="x", message_id=message_id, reply=False
        )
        letter = (await wait_listed(cli, topology.COMMAND_QUEUE, message_id))[message_id]
    assert letter["error_code"] == "malformed_message"
    assert letter["original_queue"] == topology.COMMAND_QUEUE
    assert letter["queue"] == COMMAND_DLQ

    shown = await run(cli, "dlq", "show", message_id, "--json")
    assert shown.returncode == 0, shown.stderr
    [full] = json.loads(shown.stdout)["letters"]
    assert base64.b64decode(full["body_base64"]) == body
    assert full["body_json"] is None
    assert full["reason"]
    assert full["headers"]["x-error-message"] == full["reason"]
    people = await run(cli, "dlq", "show", message_id)
    assert people.returncode == 0, people.stderr
    assert repr(body) in people.stdout
    assert "x-error-code: malformed_message" in people.stdout
    # Showing takes nothing away.
    assert message_id in await listed(cli, COMMAND_DLQ)

    discarded = await run(cli, "dlq", "discard", message_id, "--queue", COMMAND_DLQ, "--json")
    assert discarded.returncode == 0, discarded.stderr
    assert json.loads(discarded.stdout)["count"] == 1
    assert message_id not in await listed(cli, COMMAND_DLQ)
    gone = await run(cli, "dlq", "show", message_id)
    assert gone.returncode == 3


async def test_replay_sends_a_dead_letter_back_to_its_queue_and_twice_applies_once(
    pair: Pair, cli: Cli, client: CqrsClient
) -> None:
    customer_id, command_id = str(uuid4()), str(uuid4())
    name = f"Replayed {customer_id[:8]}"
    body = json.dumps({"type": "CreateCustomer", "customer_id": customer_id, "name": name, "locale": "en"})
    async with raw_channel(pair.env["CQRS_RABBITMQ_URL"]) as raw:
        replies = []
        for _ in range(2):
            # reply_to and correlation_id travel with the replay: the service's reply proves it ran.
            sent = await fake_dead_letter(raw, body.encode(), command_id, reply=True)
            await wait_listed(cli, COMMAND_DLQ, command_id)
            replayed = await run(cli, "dlq", "replay", command_id, "--json")
            assert replayed.returncode == 0, replayed.stderr
            assert json.loads(replayed.stdout)["count"] == 1
            replies.append(await raw.reply(sent))
    assert replies[0]["status"] == "accepted"
    assert replies[0]["version"] == 1
    assert replies[1] == replies[0]
    assert command_id not in await listed(cli, COMMAND_DLQ)
    view = await client.ask(GetCustomer(customer_id=customer_id, min_version=1))
    assert (view.name, view.version) == (name, 1)


async def test_discard_all_empties_a_dead_letter_queue(pair: Pair, cli: Cli) -> None:
    ids = [str(uuid4()), str(uuid4())]
    async with raw_channel(pair.env["CQRS_RABBITMQ_URL"]) as raw:
        for message_id in ids:
            await raw.publish(b"[]", routing_key=topology.QUERY_QUEUE, message_id=message_id, reply=False)
        await wait_listed(cli, QUERY_DLQ, *ids)
    discarded = await run(cli, "dlq", "discard", "--all", "--queue", topology.QUERY_QUEUE, "--json")
    assert discarded.returncode == 0, discarded.stderr
    document = json.loads(discarded.stdout)
    assert set(ids) <= {letter["message_id"] for letter in document["messages"]}
    assert document["count"] == len(document["messages"])
    assert await listed(cli, QUERY_DLQ) == {}


async def test_status_shows_every_queue_with_its_depth(pair: Pair, cli: Cli) -> None:
    message_id = str(uuid4())
    async with raw_channel(pair.env["CQRS_RABBITMQ_URL"]) as raw:
        await fake_dead_letter(raw, b"{}", message_id)
    await wait_listed(cli, COMMAND_DLQ, message_id)
    # The pair's services listen on ports of their own (tests/pair.py), not the defaults.
    urls = {"CQRS_COMMAND_HTTP_URL": pair.command.url, "CQRS_QUERY_HTTP_URL": pair.query.url}
    status_cli = Cli({**pair.env, **urls})
    try:
        done = await run(status_cli, "status", "--json")
        people = await run(status_cli, "status")
    finally:
        await run(cli, "dlq", "discard", message_id)
    assert done.returncode == 0, done.stdout + done.stderr
    status = json.loads(done.stdout)
    queues = {queue["name"]: queue for queue in status["queues"]}
    assert list(queues) == ALL_QUEUES
    assert all(queue["present"] for queue in queues.values())
    assert queues[topology.COMMAND_QUEUE]["consumers"] >= 1
    assert queues[topology.QUERY_QUEUE]["consumers"] >= 1
    assert queues[COMMAND_DLQ]["messages"] >= 1
    assert status["broker"] == {"ok": True, "problem": None}
    assert [service["name"] for service in status["services"]] == ["command", "query"]
    command, query = status["services"]
    assert (command["state"], query["state"]) == ("ready", "ready"), status
    assert command["readiness"]["outbox"]["backlog"] >= 0
    assert query["readiness"]["checks"]["projection_lag"]["ok"] is True
    assert people.returncode == done.returncode
    assert COMMAND_DLQ in people.stdout


async def test_without_a_broker_status_and_dlq_say_so_and_exit_4(pair: Pair) -> None:
    nowhere = Cli({**pair.env, "CQRS_RABBITMQ_URL": "amqp://cqrs-client:cqrs-client@127.0.0.1:1/cqrs"})
    status = await run(nowhere, "status", "--json")
    assert status.returncode == 4
    assert json.loads(status.stdout)["broker"]["ok"] is False
    listing = await run(nowhere, "dlq", "list")
    assert listing.returncode == 4
    assert "cannot reach RabbitMQ at amqp://127.0.0.1:1/cqrs" in listing.stderr
