"""The read model's checkpoint: the global position up to which every event is applied, per generation.

{_id: "checkpoint.<generation>", position: N} in the control collection (layout.PROJECTION). It only
moves forward: several replicas may save theirs, and each saves a position it knows is complete.
"""

import contextlib

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from query_service.read_model import layout
from query_service.read_model.layout import Document

POSITION = "position"


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
