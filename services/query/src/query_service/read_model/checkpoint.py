"""The read model's checkpoint: the global position up to which every event is applied, per generation;
and who follows the live events now.

{_id: "checkpoint.<generation>", position: N} in the control collection (layout.PROJECTION). It only
moves forward: several replicas may save theirs, and each saves a position it knows is complete.
{_id: "follower", runner, at}: the last replica to say (every second) that it follows the live events.
"""

import contextlib
from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from query_service.read_model import layout
from query_service.read_model.layout import Document

POSITION = "position"
FOLLOWER = "follower"
# A follower unheard for this long has stopped (it says so every second: catchup.SAVE_SECONDS).
FOLLOWER_TTL = timedelta(seconds=3)


def _key(generation: int) -> str:
    return f"checkpoint.{generation}"


async def load(db: AsyncDatabase[Document], generation: int) -> int:
    found = await db[layout.PROJECTION].find_one({layout.ID: _key(generation)})
    value = None if found is None else found.get(POSITION)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


async def save(db: AsyncDatabase[Document], generation: int, position: int, *, create: bool = False) -> None:
    """Move the checkpoint forward to ``position`` (never back). Only with ``create`` (a catch-up or a
    rebuild that reached it) is a missing checkpoint made: a read database dropped under a running
    service must not get back a checkpoint that vouches for documents it lost."""
    control = db[layout.PROJECTION]
    key = _key(generation)
    moved = await control.update_one(
        {layout.ID: key, POSITION: {"$lt": position}}, {"$set": {POSITION: position}}
    )
    if moved.matched_count or not create:
        return
    # There already, at this position or past it (or a racing saver's: it moves on at the next save).
    with contextlib.suppress(DuplicateKeyError):
        await control.insert_one({layout.ID: key, POSITION: position})


async def follow(db: AsyncDatabase[Document], runner: str) -> None:
    """Say that ``runner`` follows the live events (and so keeps the read model up to date)."""
    doc = {layout.ID: FOLLOWER, "runner": runner, "at": datetime.now(UTC)}
    # Two replicas' first saves may race to make it (an upsert on FerretDB v1): the next one lands.
    with contextlib.suppress(DuplicateKeyError):
        await db[layout.PROJECTION].replace_one({layout.ID: FOLLOWER}, doc, upsert=True)


async def unfollow(db: AsyncDatabase[Document], runner: str) -> None:
    """``runner`` stops following (it stops cleanly): a replica starting next must not wait for it."""
    await db[layout.PROJECTION].delete_one({layout.ID: FOLLOWER, "runner": runner})


async def followed_by_another(db: AsyncDatabase[Document], runner: str) -> str | None:
    """Another replica that follows the live events now, if one said so within FOLLOWER_TTL."""
    found = await db[layout.PROJECTION].find_one({layout.ID: FOLLOWER})
    if found is None or found.get("runner") == runner:
        return None
    at = found.get("at")
    fresh = isinstance(at, datetime) and datetime.now(UTC) - at.astimezone(UTC) < FOLLOWER_TTL
    return str(found.get("runner")) if fresh else None
