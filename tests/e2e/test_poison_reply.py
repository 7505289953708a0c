"""A reply address that makes RabbitMQ close the replying connection stalls no consumer (links.py).

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
async def test_a_reply_address_the_broker_fails_on_costs_only_the_replies_connection(
    pair: Pair, queue: str
) -> None:
    service = pair.command if queue == topology.COMMAND_QUEUE else pair.query
    url = pair.env["CQRS_RABBITMQ_URL"]
    consumed_before = await scrape.metric(service.url, LOSSES, connection="consume")
    replies_before = await scrape.metric(service.url, LOSSES, connection="replies")
    async with raw_channel(url) as raw:
        for index in range(SENT):
            exchange, key, body = request(queue, index)
            message = aio_pika.Message(
                body, message_id=str(uuid4()), correlation_id=str(uuid4()), reply_to=POISON
            )
            await (await raw.channel.get_exchange(exchange)).publish(message, routing_key=key)

        async def replies_lost() -> bool:
            return await scrape.metric(service.url, LOSSES, connection="replies") > replies_before

        # The premise: this broker does close a connection that replies there.
        await until(replies_lost, timeout=15, what="the broker to close the replies' connection")

        async def drained() -> bool:
            declared = await raw.channel.declare_queue(queue, passive=True)
            return declared.declaration_result.message_count == 0

        async with CqrsClient.connect(url, timeout=10) as client:
            # What comes after is served, the poisoned requests are settled and do not come back.
            if queue == topology.COMMAND_QUEUE:
                assert (
                    await client.send(CreateCustomer(name="After poison", locale="en"))
                ).status == "accepted"
            else:
                assert isinstance(await client.ask(GetPreferredCustomers()), CustomerPage)
            await until(drained, timeout=15, what=f"{queue} empty")
            await asyncio.sleep(2.0)  # a request that came back would close the replies' connection again
            await until(drained, timeout=1, what=f"{queue} still empty")
    replies_lost_count = await scrape.metric(service.url, LOSSES, connection="replies") - replies_before
    assert 1 <= replies_lost_count <= SENT, replies_lost_count
    assert await scrape.metric(service.url, LOSSES, connection="consume") == consumed_before
    assert service.process.poll() is None
