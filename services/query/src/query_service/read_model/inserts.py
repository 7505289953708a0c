"""Inserts of new documents by concurrent writers, sent together: one insert_many per round.

inserts = Inserts(collection)
await inserts.insert(doc)    # DuplicateKeyError when its _id exists, as insert_one would raise

The projector applies many owners' events at once (prefetch 64), and each new customer, account or
ledger entry is one insert. Sent one by one, each costs a round trip, a command FerretDB parses and a
transaction in its PostgreSQL. Here a sender task sends the first document at once; those that arrive
while it is on the wire wait for it and then go together, up to BATCH at a time (group commit: no
added wait when the load is light, fewer round trips the heavier it gets). Unordered: each document
is a different owner's (one owner's events are applied one at a time), so one failing stops none
of the others, and each writer gets its own outcome.
"""

import asyncio
from dataclasses import dataclass, field

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from query_service.read_model.layout import Document

BATCH = 100
DUPLICATE_KEY = 11000


@dataclass
class _Waiting:
    doc: Document
    done: "asyncio.Future[None]" = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Inserts:
    """The inserts into one collection, sent by one task while any wait."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection
        self._waiting: list[_Waiting] = []
        self._sender: asyncio.Task[None] | None = None
        self.rounds = 0  # insert commands sent
        self.documents = 0  # documents sent in them

    async def insert(self, doc: Document) -> None:
        """Insert ``doc``; raises what insert_one would (DuplicateKeyError, a connection's error)."""
        mine = _Waiting(doc)
        self._waiting.append(mine)
        if self._sender is None:
            self._sender = asyncio.create_task(self._send())
        await mine.done

    async def _send(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:BATCH], self._waiting[BATCH:]
                await self._round(batch)
        finally:
            self._sender = None
            for waiting in self._waiting:  # cancelled (the service stops): nobody sends these
                waiting.done.cancel()
            self._waiting = []

    async def _round(self, batch: list[_Waiting]) -> None:
        self.rounds += 1
        self.documents += len(batch)
        try:
            await self._collection.insert_many([w.doc for w in batch], ordered=False)
        except BulkWriteError as error:
            failed = {item["index"]: item for item in error.details.get("writeErrors", [])}
            for index, waiting in enumerate(batch):
                item = failed.get(index)
                _settle(waiting, None if item is None else _error_of(item))
        except Exception as error:
            for waiting in batch:
                _settle(waiting, error)
        except BaseException:
            for waiting in batch:
                waiting.done.cancel()
            raise
        else:
            for waiting in batch:
                _settle(waiting, None)


def _settle(waiting: _Waiting, error: Exception | None) -> None:
    if waiting.done.done():  # its writer was cancelled meanwhile
        return
    if error is None:
        waiting.done.set_result(None)
    else:
        waiting.done.set_exception(error)


def _error_of(item: Document) -> OperationFailure:
    """The error insert_one would have raised for this document."""
    message, code = str(item.get("errmsg", "")), item.get("code")
    if code == DUPLICATE_KEY:
        return DuplicateKeyError(message, code, item)
    return OperationFailure(message, code if isinstance(code, int) else None, item)
