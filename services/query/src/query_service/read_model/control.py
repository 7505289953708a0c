"""The read model's control documents (collection layout.PROJECTION, outside every generation).

{_id: "generation", value: N}: the generation queries read and the projector writes.
{_id: "rebuild", ...RebuildProgress}: the running or last rebuild, with its runner's heartbeat.
"""

from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase

from cqrs_contracts import RebuildProgress
from query_service.read_model import layout
from query_service.read_model.layout import Document

# A runner writes its heartbeat this often; one silent for LEASE has stopped, and a rebuild may resume.
HEARTBEAT = 2.0
LEASE = timedelta(seconds=10)
RUNNING = frozenset({"requested", "building", "switching"})


async def generation(db: AsyncDatabase[Document]) -> int:
    found = await db[layout.PROJECTION].find_one({layout.ID: layout.GENERATION})
    return int(found[layout.COUNTER_VALUE]) if found is not None else 0


async def set_generation(db: AsyncDatabase[Document], value: int) -> None:
    await db[layout.PROJECTION].update_one(
        {layout.ID: layout.GENERATION}, {"$set": {layout.COUNTER_VALUE: value}}, upsert=True
    )


async def rebuild(db: AsyncDatabase[Document]) -> RebuildProgress | None:
    found = await db[layout.PROJECTION].find_one({layout.ID: layout.REBUILD})
    if found is None:
        return None
    found.pop(layout.ID)
    return RebuildProgress.model_validate(found)


async def save_rebuild(db: AsyncDatabase[Document], progress: RebuildProgress) -> None:
    await db[layout.PROJECTION].replace_one(
        {layout.ID: layout.REBUILD}, {layout.ID: layout.REBUILD, **progress.model_dump()}, upsert=True
    )


def running(progress: RebuildProgress | None, now: datetime | None = None) -> bool:
    """Whether ``progress`` is a rebuild whose runner is alive (its heartbeat is within the lease)."""
    if progress is None or progress.state not in RUNNING:
        return False
    return (now or datetime.now(UTC)) - progress.updated_at < LEASE


def target_of(previous: RebuildProgress | None, current: int) -> int:
    """The generation a rebuild builds: the one an unfinished rebuild began, or the next."""
    if previous is not None and previous.state != "done" and previous.target > current:
        return previous.target
    return current + 1


def started_of(previous: RebuildProgress | None, target: int, now: datetime) -> datetime:
    """When the rebuild into ``target`` began: the unfinished one's start, or now."""
    return previous.started_at if previous is not None and previous.target == target else now
