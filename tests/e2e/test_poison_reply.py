"""A reply address that makes RabbitMQ close the replying connection stalls nothing (links.py,
reply_path.py): it costs one probe's connection, and later replies to it are dropped unsent.

RabbitMQ 3.10 closes the whole connection (541 INTERNAL_ERROR) of a channel that publishes to a
direct reply-to address it cannot decode, or whose node is not running: any client can send one,
and a requester whose node stopped leaves one behind. When replies went out on the consuming
connection, each such request took every consumer down and came back itself; on a cluster with a
node stopped, the query service's connection failed for 30 s and its watchdog stopped it (CI,
tests/cluster/test_node_loss.py).
"""

import asyncio
import json
from uuid import uuid4

import aio_pika
import pytest

from cqrs_client.client import CqrsClient
from cqrs_client.messaging import topology
from cqrs_contracts import CreateCustomer, CustomerPage, GetPreferredCustomers
from tests import scrape
from tests.e2e.raw import raw_channel
from tests.pair import Pair
from tests.waiting import until

# base64 of an Erlang term that is no process ("hello"), then a key: RabbitMQ 3.10's channel fails on
# it. (A random string does not: its decoder refuses that one before it can fail.)
POISON = f"{topology.DIRECT_REPLY_TO}.g2hlbGxv.abc"
SENT = 3
LOSSES = "cqrs_broker_connection_losses_total"
DROPPED = "cqrs_replies_dropped_total"


def request(queue: str, index: int) -> tuple[str, str, bytes]:
    """(exchange, routing key, body) of an ordinary request to ``queue``."""
    if queue == topology.COMMAND_QUEUE:
        body = {"type": "CreateCustomer", "name": f"Poison reply {index}", "locale": "en"}
        return topology.COMMANDS_EXCHANGE, "CreateCustomer", json.dumps(body).encode()
    return (
        topology.QUERIES_EXCHANGE,
        topology.QUERY_QUEUE,
        json.dumps({"type": "GetPreferredCustomers"}).encode(),
    )


@pytest.mark.parametrize("queue", [topology.COMMAND_QUEUE, topology.QUERY_QUEUE])
async def test_a_reply_address_the_broker_fails_on_costs_one_probe_and_stalls_nothing(
    pair: Pair, queue: str
) -> None:
    service = pair.command if queue == topology.COMMAND_QUEUE else pair.query
    url = pair.env["CQRS_RABBITMQ_URL"]

    async def read(name: str, **labels: str) -> float:
        return await scrape.metric(service.url, name, **labels)

    async def losses() -> dict[str, float]:
        return {name: await read(LOSSES, connection=name) for name in ("consume", "replies", "probe")}

    lost_before, dropped_before = await losses(), await read(DROPPED)
    async with raw_channel(url) as raw:
        for index in range(SENT):
            exchange, key, body = request(queue, index)
            message = aio_pika.Message(
                body, message_id=str(uuid4()), correlation_id=str(uuid4()), reply_to=POISON
            )
            await (await raw.channel.get_exchange(exchange)).publish(message, routing_key=key)

        async def all_dropped() -> bool:
            return await read(DROPPED) - dropped_before >= SENT

        await until(all_dropped, timeout=15, what=f"{SENT} replies dropped")

        async def drained() -> bool:
            declared = await raw.channel.declare_queue(queue, passive=True)
            return declared.declaration_result.message_count == 0

        async with CqrsClient.connect(url, timeout=10) as client:
            # What comes after is served; the poisoned requests were settled and do not come back.
            if queue == topology.COMMAND_QUEUE:
                assert (
                    await client.send(CreateCustomer(name="After poison", locale="en"))
                ).status == "accepted"
            else:
                assert isinstance(await client.ask(GetPreferredCustomers()), CustomerPage)
            await until(drained, timeout=15, what=f"{queue} empty")
            await asyncio.sleep(2.0)  # a request that came back would be dropped again
    lost = {name: count - lost_before[name] for name, count in (await losses()).items()}
    # The first reply cost the probe's connection (the premise: this broker fails on the address);
    # the other two were dropped without a publish; the connections that matter never dropped.
    assert lost == {"consume": 0, "replies": 0, "probe": 1}
    assert await read(DROPPED) - dropped_before == SENT
    assert service.process.poll() is None
