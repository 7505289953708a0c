"""`make bench-scale`: does a read stay as fast as the read model grows?

One read database is seeded to 1,000, then 10,000, then 100,000 customers, and at each size the
query side's reads are timed: a customer by id (GetCustomer), a page of 50 customers with one name
(60 share it, at every size), the first page of 50 preferred customers (one customer in ten is
preferred, so that list grows with the model), and a page of 50 of the history of an account with
10 and of one with 10,000 transactions. The reads are the ReadStore's, in this process: the query
service adds the same RPC cost at every size, so this is the stricter ratio.

The bulk path: synthetic events go through the projector's own `apply` (version gates, documents,
indexes as in production) straight into the read database, 16 streams at a time; RabbitMQ and the
command side are left out (they do not change what a read costs). Needs the MongoDB-compatible
server (CQRS_MONGODB_URL, default infra/local.env's); drops its database afterwards.
"""

import argparse
import asyncio
import json
import os
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from cqrs_contracts import (
    CustomerCreated,
    CustomerMadePreferred,
    EventEnvelope,
)
from query_service.projection import projector
from query_service.read_model.store import ReadStore, open_database
from query_service.settings import QuerySettings
from tests.builders import envelope, savings
from tests.local_env import use_local_servers

SIZES = tuple(int(s) for s in os.environ.get("CQRS_BENCH_SIZES", "1000,10000,100000").split(","))
NEEDLE = "Needle Person"
NEEDLES = 60
PAGE = 50
SMALL_HISTORY, LARGE_HISTORY = 10, 10_000
WORKERS = 16
SAMPLES = 200
RESULTS = Path("bench-results/scale.json")


async def no_gaps(stream_id: UUID, after: int) -> list[EventEnvelope]:
    raise AssertionError(f"the bench applies each stream in order; stream {stream_id} had a gap")


async def apply_all(store: ReadStore, events: list[EventEnvelope]) -> None:
    for item in events:
        await projector.apply(item, store, no_gaps)


def customer(index: int) -> list[EventEnvelope]:
    customer_id = uuid4()
    name = NEEDLE if index < NEEDLES else f"Customer {index}"
    events = [envelope(CustomerCreated(customer_id=customer_id, name=name, locale="en"), 1)]
    if index % 10 == 0:
        events.append(envelope(CustomerMadePreferred(customer_id=customer_id), 2))
    return events


def account(transactions: int) -> tuple[UUID, list[list[EventEnvelope]]]:
    """An account with ``transactions`` deposits of 1.00; its customer's stream, then the account's."""
    customer_id, account_id = uuid4(), uuid4()
    owner = [envelope(CustomerCreated(customer_id=customer_id, name="Saver", locale="en"), 1)]
    return account_id, [owner, savings(account_id, customer_id, transactions)]


async def seed(store: ReadStore, streams: Iterator[list[EventEnvelope]], progress: bool) -> int:
    done = 0

    async def worker() -> None:
        nonlocal done
        for events in streams:
            await apply_all(store, events)
            done += 1
            if progress and done % 5_000 == 0:
                print(f"    seeded {done:,} streams", flush=True)

    await asyncio.gather(*(worker() for _ in range(WORKERS)))
    return done


async def timed(count: int, read: Callable[[], Awaitable[Any]]) -> dict[str, float]:
    samples = []
    for _ in range(count):
        began = time.perf_counter()
        await read()
        samples.append(time.perf_counter() - began)
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
    }


async def measure(store: ReadStore, ids: list[UUID], small: UUID, large: UUID) -> dict[str, Any]:
    picks = iter(ids[i * 7919 % len(ids)] for i in range(SAMPLES))

    async def by_id() -> None:
        assert await store.customer(next(picks)) is not None

    async def by_name() -> None:
        assert len((await store.customers_with_name(NEEDLE.lower(), PAGE, None)).items) == PAGE

    async def preferred() -> None:
        assert len((await store.pages.preferred_customers(PAGE, None)).items) == PAGE

    async def history(account_id: UUID, expected: int) -> None:
        assert len((await store.pages.transactions(account_id, PAGE, None)).items) == expected

    return {
        "GetCustomer": await timed(SAMPLES, by_id),
        "find (page of 50)": await timed(SAMPLES // 4, by_name),
        "preferred (page of 50)": await timed(SAMPLES // 4, preferred),
        f"history, {SMALL_HISTORY} transactions": await timed(
            SAMPLES // 4, lambda: history(small, SMALL_HISTORY)
        ),
        f"history, {LARGE_HISTORY:,} transactions (page of 50)": await timed(
            SAMPLES // 4, lambda: history(large, PAGE)
        ),
    }


async def run(url: str, progress: bool) -> dict[str, Any]:
    database = f"cqrs_bench_scale_{uuid4().hex[:8]}"
    results: dict[str, Any] = {"sizes": {}, "seeding_s": {}}
    async with open_database(url, database) as db:
        store = ReadStore(db)
        await store.ensure_indexes()
        try:
            small, small_streams = account(SMALL_HISTORY)
            large, large_streams = account(LARGE_HISTORY)
            began = time.perf_counter()
            await seed(store, iter(small_streams + large_streams), progress=False)
            results["seeding_s"]["accounts"] = round(time.perf_counter() - began, 1)
            await asyncio.sleep(2)  # the FerretDB program gives new indexes their GIN companion each second
            ids: list[UUID] = []
            seeded = 0
            for size in SIZES:
                began = time.perf_counter()
                batch = [customer(index) for index in range(seeded, size)]
                ids.extend(events[0].stream_id for events in batch)
                await seed(store, iter(batch), progress)
                results["seeding_s"][str(size)] = round(time.perf_counter() - began, 1)
                seeded = size
                results["sizes"][str(size)] = await measure(store, ids, small, large)
                if progress:
                    print(f"  {size:>7,} customers: {json.dumps(results['sizes'][str(size)])}", flush=True)
        finally:
            await db.client.drop_database(database)
    return results


def table(results: dict[str, Any]) -> str:
    sizes = list(results["sizes"])
    reads = list(results["sizes"][sizes[0]])
    header = f"{'read':<42}" + "".join(f"{int(s):>10,} p50/p99 ms" for s in sizes) + "   ratio"
    lines = [header]
    for read in reads:
        cells = [results["sizes"][s][read] for s in sizes]
        ratio = cells[-1]["p50_ms"] / cells[0]["p50_ms"]
        row = "".join(f"{c['p50_ms']:>11.2f} / {c['p99_ms']:<8.2f}" for c in cells)
        lines.append(f"{read:<42}{row}  {ratio:5.2f}x")
    largest = results["sizes"][sizes[-1]]
    small, large = (largest[read]["p50_ms"] for read in reads[-2:])
    lines.append(f"{reads[-1]} / {reads[-2]}, at {int(sizes[-1]):,} customers: {large / small:.2f}x")
    seeding = ", ".join(f"{k}: {v} s" for k, v in results["seeding_s"].items())
    lines.append(f"seeding (bulk path): {seeding}")
    return "\n".join(lines)


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    use_local_servers()
    url = str(QuerySettings().mongodb_url)
    results = asyncio.run(run(url, progress=not args.json))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print(json.dumps(results) if args.json else table(results))


if __name__ == "__main__":
    main()
