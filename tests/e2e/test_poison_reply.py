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
import base64
import json
import random
import time
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


def made_up_node() -> str:
    """A direct reply-to address that decodes, naming a node no cluster has (RabbitMQ fails on it)."""
    node = f"reply@{random.randrange(10**9)}".encode()
    term = bytes([131, 88, 118]) + len(node).to_bytes(2, "big") + node + bytes(12)
    return f"{topology.DIRECT_REPLY_TO}.{base64.b64encode(term).decode()}.a2V5"


async def test_a_client_sending_made_up_nodes_twenty_a_second_keeps_no_one_from_an_answer(pair: Pair) -> None:
    # Each such address is a new node to probe, and each probe costs the probe's connection. Before
    # the probes, one poisoned address a second left 4 askers 8 answers in 10 s and stopped the
    # query service; before replies were dropped while the probe's connection came back, 20 made-up
    # nodes a second held the consumer's slots: 268 answers in 10 s, 8 timeouts.
    url = pair.env["CQRS_RABBITMQ_URL"]
    service, stop = pair.query, asyncio.Event()
    lost_before = {
        name: await scrape.metric(service.url, LOSSES, connection=name) for name in ("consume", "replies")
    }
    probes_before = await scrape.metric(service.url, LOSSES, connection="probe")

    async def flood() -> int:
        sent = 0
        async with raw_channel(url) as raw:
            exchange = await raw.channel.get_exchange(topology.QUERIES_EXCHANGE)
            while not stop.is_set():
                _, key, body = request(topology.QUERY_QUEUE, sent)
                message = aio_pika.Message(body, message_id=str(uuid4()), reply_to=made_up_node())
                await exchange.publish(message, routing_key=key)
                sent += 1
                await asyncio.sleep(1 / 20)
        return sent

    latencies: list[float] = []

    async def ask(client: CqrsClient) -> None:
        while not stop.is_set():
            started = time.monotonic()
            await client.ask(GetPreferredCustomers())  # a RequestTimeout (5 s) fails the test
            latencies.append(time.monotonic() - started)

    async with CqrsClient.connect(url, timeout=5) as client:
        flooding = asyncio.create_task(flood())
        askers = [asyncio.create_task(ask(client)) for _ in range(4)]
        await asyncio.sleep(6.0)
        stop.set()
        await asyncio.gather(*askers)
        sent = await flooding
    latencies.sort()
    probes = await scrape.metric(service.url, LOSSES, connection="probe") - probes_before
    print(
        f"\n{sent} made-up nodes in 6 s; 4 askers: {len(latencies)} answers, p50 "
        f"{latencies[len(latencies) // 2] * 1000:.1f} ms, slowest {latencies[-1] * 1000:.0f} ms; "
        f"probe connection lost {probes:g} times"
    )
    assert probes >= 1  # the premise: the broker failed on them
    for name, before in lost_before.items():
        assert await scrape.metric(service.url, LOSSES, connection=name) == before, name
    assert service.process.poll() is None
