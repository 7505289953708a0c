"""`make bench`: latency and throughput of the running pair, through RabbitMQ like any client.

Bounded: a fixed number of operations per measure and a time limit on each. Prints a table, or
JSON with --json. Needs both services running (`make run` in another terminal).
"""

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from uuid import uuid4

from cqrs_shared.client import CqrsClient
from cqrs_shared.contracts import (
    CommandAccepted,
    CreateCustomer,
    CustomerView,
    Deposit,
    EditCustomerDetails,
    GetCustomer,
    OpenAccount,
)
from cqrs_shared.settings import BrokerSettings, load
from tests.local_env import use_local_servers

TIME_LIMIT = 60.0


def summary(name: str, samples: list[float], elapsed: float) -> dict[str, float | str | int]:
    ordered = sorted(samples)
    return {
        "measure": name,
        "n": len(samples),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
        "per_s": round(len(samples) / elapsed, 1),
    }


async def measure(
    name: str, count: int, concurrency: int, operation: Callable[[int], Awaitable[None]]
) -> dict[str, float | str | int]:
    samples: list[float] = []
    queue = iter(range(count))

    async def worker() -> None:
        for n in queue:
            began = time.perf_counter()
            await operation(n)
            samples.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), TIME_LIMIT)
    return summary(name, samples, time.perf_counter() - began)


async def run(count: int, concurrency: int, progress: bool) -> list[dict[str, float | str | int]]:
    url = str(load(BrokerSettings).rabbitmq_url)
    async with CqrsClient.connect(url, timeout=30) as client:
        ids: list[CommandAccepted] = []

        async def create(n: int) -> None:
            reply = await client.send(CreateCustomer(customer_id=uuid4(), name=f"Bench {n}", locale="en"))
            assert isinstance(reply, CommandAccepted), reply
            ids.append(reply)

        async def edit_then_read(n: int) -> None:
            target = ids[n % len(ids)]
            reply = await client.send(EditCustomerDetails(customer_id=target.id, name=f"Bench {n} edited"))
            assert isinstance(reply, CommandAccepted), reply
            await client.ask(GetCustomer(customer_id=target.id, min_version=reply.version), CustomerView)

        async def read(n: int) -> None:
            await client.ask(GetCustomer(customer_id=ids[n % len(ids)].id), CustomerView)

        accounts: list[tuple[CommandAccepted, CommandAccepted]] = []
        for n in range(concurrency):
            owner = await client.send(CreateCustomer(name=f"Saver {n}", locale="en"))
            assert isinstance(owner, CommandAccepted), owner
            opened = await client.send(OpenAccount(customer_id=owner.id))
            assert isinstance(opened, CommandAccepted), opened
            accounts.append((owner, opened))

        async def deposit_then_view(n: int) -> None:
            owner, account = accounts[n % len(accounts)]
            reply = await client.send(Deposit(account_id=account.id, amount="1.00"))
            assert isinstance(reply, CommandAccepted), reply
            await client.ask(GetCustomer(customer_id=owner.id, token=reply.token), CustomerView)

        plan: list[tuple[str, int, Callable[[int], Awaitable[None]]]] = [
            ("command round trip (create), 1 in flight", 1, create),
            ("query round trip (get), 1 in flight", 1, read),
            ("command -> visible in the view, 1 in flight", 1, edit_then_read),
            ("deposit -> visible in the customer view", 1, deposit_then_view),
            (f"commands, {concurrency} in flight", concurrency, create),
            (f"queries, {concurrency} in flight", concurrency, read),
            (f"deposit -> visible in customer view, {concurrency} in flight", concurrency, deposit_then_view),
        ]
        results = []
        for name, in_flight, operation in plan:
            if progress:
                print(f"... {name} x{count}", flush=True)
            results.append(await measure(name, count, in_flight, operation))
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="operations per measure")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    use_local_servers()
    results = asyncio.run(run(args.count, args.concurrency, progress=not args.json))
    if args.json:
        print(json.dumps(results))
        return
    print(f"{'measure':<56} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'per s':>8}")
    for row in results:
        print(f"{row['measure']:<56} {row['n']:>5} {row['p50_ms']:>8} {row['p99_ms']:>8} {row['per_s']:>8}")


if __name__ == "__main__":
    main()
