"""FerretDB v1 limit: an update reads the whole document, changes it and writes it all back.

Nothing stops a second writer in between: of 200 pairs of concurrent ``$set``s of two fields of one
document, 184 lost one of the two (docs/servers.md, FerretDB's limits), and an ``$inc`` upsert raced by two
processes failed with a duplicate key (tests/integration/test_counter.py, on the code before this).
So a counter hands out numbers by claiming each with an insert of a document of its own: the
server's unique ``_id`` lets one insert of it succeed, whichever process tries. On MongoDB one
``find_one_and_update({"$inc": ...})`` would do.

numbers = ClaimedNumbers(counters_collection)
first = await numbers.reserve("preferred", 3)     # first, first + 1, first + 2 are this caller's
"""

import asyncio

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from query_service.read_model import layout
from query_service.read_model.layout import Document, field_of

DUPLICATE_KEY = 11000


class ClaimedNumbers:
    """The counters of one generation (layout.COUNTERS)."""

    def __init__(self, counters: AsyncCollection[Document]) -> None:
        self._counters = counters
        self._counting = asyncio.Lock()

    async def reserve(self, counter: str, count: int) -> int:
        """Take ``count`` numbers of ``counter`` (0, 1, 2, ...); the first of them. A claim that
        collides gives up the numbers it took (a hole, harmless to the pages) and claims higher."""
        async with self._counting:
            first = await self.last(counter) + 1
            while True:
                claims = [{layout.ID: layout.claim(counter, first + n)} for n in range(count)]
                try:
                    await self._counters.insert_many(claims, ordered=True)
                    break
                except BulkWriteError as error:
                    if any(item.get("code") != DUPLICATE_KEY for item in error.details["writeErrors"]):
                        raise
                    first += int(error.details["nInserted"]) + 1
            await self._count_up_to(counter, first + count)
        return first

    async def last(self, counter: str) -> int:
        """The last number ``counter`` handed out; -1 before the first. The counter's value, and
        beyond it the claims of numbers another process took and has not counted yet."""
        value = field_of(await self._counters.find_one({layout.ID: counter}), layout.COUNTER_VALUE)
        last = value - 1 if isinstance(value, int) else -1
        while await self._counters.find_one({layout.ID: layout.claim(counter, last + 1)}) is not None:
            last += 1
        return last

    async def _count_up_to(self, counter: str, value: int) -> None:
        """The counter itself says how far numbering went, at least (two writers may each set it)."""
        update = {"$max": {layout.COUNTER_VALUE: value}}
        try:
            await self._counters.update_one({layout.ID: counter}, update, upsert=True)
        except DuplicateKeyError:  # two processes made the counter at once: it exists now
            await self._counters.update_one({layout.ID: counter}, update)
