"""Two query replicas share four event partitions; one is killed under load; the read model is right."""

import asyncio
import json
import re
import signal
from datetime import UTC, datetime, timedelta

from cqrs_client.client import CqrsClient
from tests.cluster.conftest import ClusterPair
from tests.cluster.load import Load, stored_once, worker
from tests.pair import Service

PARTITIONS = 4
WORKERS = 8
HANDLED = re.compile(r"^query-service\.events\.(\d+) \S+: \S+(?: \S+)? in ([0-9.]+) ms$")
# Log times have millisecond precision: two spans closer than this are not told apart.
TOLERANCE = timedelta(milliseconds=2)

Span = tuple[datetime, datetime]


def spans(service: Service) -> dict[int, list[Span]]:
    """When ``service`` handled each event, by partition: from the consumer's line a message."""
    found: dict[int, list[Span]] = {}
    for line in service.output().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        matched = HANDLED.match(str(record.get("message", "")))
        if matched is None:
            continue
        end = datetime.fromisoformat(record["time"])
        start = end - timedelta(milliseconds=float(matched[2]))
        found.setdefault(int(matched[1]), []).append((start, end))
    return found


def projected_since(found: dict[int, list[Span]], moment: datetime) -> list[int]:
    """The partitions of which a replica began an event after ``moment``."""
    return sorted(partition for partition, each in found.items() if any(a > moment for a, _ in each))


def overlaps(mine: list[Span], theirs: list[Span]) -> list[tuple[Span, Span]]:
    """Spans of one replica that ran while the other's did, on the same partition."""
    return [(a, b) for a in mine for b in theirs if a[0] + TOLERANCE < b[1] and b[0] + TOLERANCE < a[1]]


async def test_two_replicas_share_four_partitions_and_one_dies_under_load(on_cluster: ClusterPair) -> None:
    pair = on_cluster
    await pair.add("command", "command_service")
    partitioned = {"CQRS_EVENT_PARTITIONS": str(PARTITIONS)}
    first = await pair.add("query-1", "query_service", **partitioned)
    second = await pair.add("query-2", "query_service", **partitioned)
    load, stopped = Load(), asyncio.Event()
    async with CqrsClient.connect(pair.client_urls(), timeout=5) as client:
        workers = [asyncio.create_task(worker(client, load, stopped, seed)) for seed in range(WORKERS)]
        # query-1 started first and took every partition; within a few seconds it hands query-2 its share.
        settled = datetime.now(UTC) + timedelta(seconds=4)
        await asyncio.sleep(10)
        shared = (spans(first), spans(second))
        split = [
            sorted(p for p, each in side.items() if any(a > settled for a, _ in each)) for side in shared
        ]
        refused = await asyncio.to_thread(pair.cli, "projection", "rebuild", "--json")
        second.process.send_signal(signal.SIGKILL)  # mid-load, mid-event perhaps
        killed_at = len(load.accepted)
        await asyncio.sleep(8)
        stopped.set()
        await asyncio.gather(*workers)

    await stored_once(pair.postgres_dsn, load)

    report, took = await pair.verified()
    after, theirs = spans(first), spans(second)
    print(
        f"\n{PARTITIONS} partitions, 2 query replicas: once settled, query-1 projected partitions "
        f"{split[0]}, query-2 {split[1]} ({sum(map(len, shared[0].values()))} and "
        f"{sum(map(len, shared[1].values()))} events in all before the kill); "
        f"query-2 killed after {killed_at} commands; query-1 then projected {sorted(after)}; "
        f"{len(load.accepted)} commands accepted; read model verified in {took}: {report}"
    )
    assert refused.returncode != 0, refused.stdout
    assert "concurrency_conflict" in refused.stdout, refused.stdout  # a rebuild needs one replica
    assert split[0], "query-1 should project"
    assert split[1], "query-2 should project"
    assert not set(split[0]) & set(split[1]), f"settled, each partition has one replica: {split}"
    for partition in range(PARTITIONS):
        clash = overlaps(after.get(partition, []), theirs.get(partition, []))
        assert not clash, f"partition {partition}: both replicas applied events at once: {clash[:3]}"
    assert set(after) == set(range(PARTITIONS)), "the survivor should take over every partition"
