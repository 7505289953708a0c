"""A broker node dies under load: the pair carries on through the other two, and loses nothing."""

import asyncio
import json
import time

import pytest

from cqrs_client.client import CqrsClient
from tests.cluster.conftest import ClusterPair, cluster
from tests.cluster.load import Load, stored_once, worker

pytestmark = [
    # aiormq 6.9.4's Connection.connect leaves its socket's writer open when a node accepts the TCP
    # connection and closes it before Connection.Start (a node stopping, as here): the client's next
    # attempt goes to another node and succeeds, and the leak is one socket per such attempt. Seen in
    # one of five runs of this test; what the test asserts is untouched by it.
    pytest.mark.filterwarnings("ignore:unclosed <StreamWriter:ResourceWarning"),
]

WORKERS = 8
BEFORE_SECONDS = 5.0
DOWN_SECONDS = 10.0
AFTER_SECONDS = 5.0


async def test_a_node_stopped_and_started_under_load_loses_no_command(on_cluster: ClusterPair) -> None:
    pair = on_cluster
    await pair.add("command", "command_service")
    await pair.add("query", "query_service", CQRS_EVENT_PARTITIONS="2")
    load, stopped = Load(), asyncio.Event()
    async with CqrsClient.connect(pair.client_urls(), timeout=5) as client:
        workers = [asyncio.create_task(worker(client, load, stopped, seed)) for seed in range(WORKERS)]
        await asyncio.sleep(BEFORE_SECONDS)
        before = len(load.accepted)
        # Node a: the first URL of every participant, so every connection is on it when it goes.
        down_at = time.monotonic()
        await asyncio.to_thread(cluster, "stop-node", "a")
        await asyncio.sleep(DOWN_SECONDS)
        during = len(load.accepted) - before
        await asyncio.to_thread(cluster, "start-node", "a")
        await asyncio.sleep(AFTER_SECONDS)
        stopped.set()
        await asyncio.gather(*workers)

    await stored_once(pair.postgres_dsn, load)
    report, took = await pair.verified()
    dead = pair.cli("dlq", "list", "--json")
    assert dead.returncode == 0, dead.stdout + dead.stderr
    letters = json.loads(dead.stdout)
    recovery = load.longest_gap(down_at - 1, down_at + DOWN_SECONDS)
    print(
        f"\nnode a down {DOWN_SECONDS:g} s under {WORKERS} workers: {len(load.accepted)} commands accepted "
        f"({during} while it was down), {load.retries} sends repeated, "
        f"{load.queries_answered} queries answered, {load.queries_failed} failed; "
        f"recovery: commands stalled at most {recovery:.2f} s around the stop "
        f"({load.longest_gap(0, down_at - 1):.2f} s before it); read model verified in {took}: "
        f"{report}; "
        f"dead letters: {[(q['queue'], q['depth']) for q in letters['queues'] if q['depth']]}"
    )
    assert during > 0, "no command was accepted while node a was down"
    unexplained = [
        letter for queue in letters["queues"] for letter in queue["letters"] if not letter["reason"]
    ]
    assert not unexplained, unexplained
