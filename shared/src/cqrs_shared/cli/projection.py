"""``cqrs projection rebuild|status|verify``: operate the read model, over RabbitMQ only (parsed by
parsers/projection.py).

rebuild  asks the query service to rebuild the read model from the event store, then follows it
         (progress on stderr) until it is done; a rebuild whose runner stopped is resumed.
status   the generation queries read, and the running or last rebuild.
verify   folds every stream of the event store (or --sample N of them) and compares; exit 0 only
         when no document differs.
"""

import argparse
import asyncio
import json
import random
import sys
import time

from cqrs_client.client import CqrsClient
from cqrs_client.errors import RemoteError
from cqrs_client.messaging.topology import OPERATIONS_AT_ONCE, OPERATIONS_QUEUE, STREAM_QUEUE
from cqrs_contracts import (
    ErrorCode,
    GetProjectionStatus,
    ListStreams,
    ProjectionStatus,
    RebuildProgress,
    RebuildReadModel,
    StreamCheck,
    StreamRef,
    VerifyStream,
)
from cqrs_shared.cli.exits import EXIT_ERROR, EXIT_OK, EXIT_REJECTED

POLL_SECONDS = 1.0


async def run(args: argparse.Namespace, client: CqrsClient, as_json: bool) -> int:
    if args.verb == "status":
        _status(await client.ask(GetProjectionStatus(), queue=OPERATIONS_QUEUE), as_json)
        return EXIT_OK
    if args.verb == "verify":
        return await _verify(client, args.sample, as_json)
    try:
        started = await client.ask(RebuildReadModel(), queue=OPERATIONS_QUEUE)
    except RemoteError as error:
        if error.info.code != ErrorCode.REBUILD_RUNNING:
            raise
        _refused(error.info.message, as_json)
        return EXIT_REJECTED
    if args.no_wait:
        _status(started, as_json)
        return EXIT_OK
    return await _follow(client, as_json)


async def _follow(client: CqrsClient, as_json: bool) -> int:
    """Poll the status until the rebuild ends; resume it if its runner stopped. A line each time the
    runner's heartbeat brings news (every 2 s), with the rate since the one before."""
    previous: RebuildProgress | None = None
    while True:
        await asyncio.sleep(POLL_SECONDS)
        status = await client.ask(GetProjectionStatus(), queue=OPERATIONS_QUEUE)
        progress = status.rebuild
        if progress is None:
            continue
        if progress.state in ("done", "failed"):
            _status(status, as_json)
            return EXIT_OK if progress.state == "done" else EXIT_ERROR
        if not status.running:
            _note("the rebuild's runner stopped; resuming it", as_json)
            await client.ask(RebuildReadModel(), queue=OPERATIONS_QUEUE)
            continue
        if previous is not None and progress.updated_at == previous.updated_at:
            continue
        rate = None
        if previous is not None and previous.target == progress.target:
            seconds = (progress.updated_at - previous.updated_at).total_seconds()
            rate = (progress.events_applied - previous.events_applied) / seconds if seconds > 0 else None
        previous = progress
        _note(_progress_line(progress, rate), as_json)


def _progress_line(progress: RebuildProgress, rate: float | None) -> str:
    total = f" of {progress.streams_total:,}" if progress.streams_total is not None else ""
    share = ""
    if progress.streams_total:
        share = f" ({100 * progress.streams_done // progress.streams_total}%)"
    speed = f", {rate:,.0f} events/s" if rate is not None else ""
    return (
        f"{progress.state} generation {progress.target}: {progress.streams_done:,}{total} streams{share}, "
        f"{progress.events_applied:,} events applied{speed}"
    )


def _status(status: ProjectionStatus, as_json: bool) -> None:
    if as_json:
        print(status.model_dump_json())
        return
    print(f"generation:  {status.generation} (queries read it)")
    progress = status.rebuild
    if progress is None:
        print("rebuild:     never")
        return
    alive = "" if status.running or progress.state in ("done", "failed") else " (its runner stopped)"
    print(f"rebuild:     {progress.state} into generation {progress.target}{alive}")
    print(f"runner:      {progress.runner or '-'}")
    print(f"started:     {progress.started_at:%Y-%m-%d %H:%M:%S} UTC")
    if progress.finished_at is not None:
        took = (progress.finished_at - progress.started_at).total_seconds()
        print(f"finished:    {progress.finished_at:%Y-%m-%d %H:%M:%S} UTC ({took:.1f} s)")
    total = f" of {progress.streams_total:,}" if progress.streams_total is not None else ""
    print(f"streams:     {progress.streams_done:,}{total}")
    print(f"events:      {progress.events_applied:,} applied")
    if progress.error:
        print(f"error:       {progress.error}")


async def _verify(client: CqrsClient, sample: int | None, as_json: bool) -> int:
    streams = await _all_streams(client)
    chosen = random.sample(streams, sample) if sample is not None and sample < len(streams) else streams
    checks: list[StreamCheck] = []
    limit = asyncio.Semaphore(OPERATIONS_AT_ONCE)  # none waits in the queue on its timeout
    last_note = time.monotonic()

    async def one(ref: StreamRef) -> None:
        nonlocal last_note
        async with limit:
            checks.append(await client.ask(VerifyStream(stream_id=ref.stream_id), queue=OPERATIONS_QUEUE))
        if time.monotonic() - last_note >= POLL_SECONDS:
            last_note = time.monotonic()
            found = sum(_found(check) for check in checks)
            _note(f"verified {len(checks):,} of {len(chosen):,} streams, {found} differences", as_json)

    await asyncio.gather(*(one(ref) for ref in chosen))
    _verified(len(streams), checks, as_json)
    return EXIT_OK if not any(check.differences for check in checks) else EXIT_ERROR


async def _all_streams(client: CqrsClient) -> list[StreamRef]:
    streams: list[StreamRef] = []
    page = await client.ask(ListStreams(), queue=STREAM_QUEUE)
    streams += page.streams
    while page.next is not None:
        page = await client.ask(ListStreams(after=page.next), queue=STREAM_QUEUE)
        streams += page.streams
    return streams


def _found(check: StreamCheck) -> int:
    """A stream's differences: more than it lists where they are many (the service lists 1,000)."""
    return len(check.differences) if check.differences_found is None else check.differences_found


def _verified(total: int, checks: list[StreamCheck], as_json: bool) -> None:
    differences = [(check.stream_id, item) for check in checks for item in check.differences]
    documents = sum(check.documents for check in checks)
    found = sum(_found(check) for check in checks)
    if as_json:
        document = {
            "streams": total,
            "checked": len(checks),
            "documents": documents,
            "differences_found": found,
            "differences": [{"stream_id": str(stream), **item.model_dump()} for stream, item in differences],
        }
        print(json.dumps(document))
        return
    print(f"checked {len(checks):,} of {total:,} streams, {documents:,} documents")
    if not differences:
        print("no differences: the read model equals the fold of the event store")
        return
    listed = "" if found == len(differences) else f" ({len(differences):,} listed: a stream lists 1,000)"
    print(f"{found:,} difference{'' if found == 1 else 's'}{listed}:")
    for _, item in sorted(differences, key=lambda pair: (pair[1].document, pair[1].field)):
        print(f"  {item.document}  {item.field}: expected {item.expected}, found {item.found}")


def _refused(message: str, as_json: bool) -> None:
    if as_json:
        error = {"code": ErrorCode.REBUILD_RUNNING, "message": message, "fields": {}}
        print(json.dumps({"status": "error", "error": error}))
    else:
        print(f"refused: {message}", file=sys.stderr)


def _note(line: str, as_json: bool) -> None:
    """Progress, for people: on stderr, and not with --json."""
    if not as_json:
        print(line, file=sys.stderr, flush=True)
