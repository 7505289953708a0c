"""FerretDB v1 limit: a bulk write holds a PostgreSQL connection per statement until it ends.

FerretDB v1 keeps a PostgreSQL connection per statement of a bulk update until the whole command
ends, and waits for the pool (50) when it runs out: measured, one bulk update of 60 documents hung
the server for good. Small batches stay far below that. On MongoDB one bulk write would do.
"""

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from query_service.read_model.layout import Document

BATCH = 16  # updates per bulk write


async def write_in_batches(collection: AsyncCollection[Document], updates: list[UpdateOne]) -> None:
    for start in range(0, len(updates), BATCH):
        await collection.bulk_write(updates[start : start + BATCH], ordered=False)
