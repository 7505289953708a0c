"""Numbers of a counter handed out by two processes at once stay distinct (ClaimedNumbers in
read_model/limits/whole_document_updates.py).

Two query replicas projecting different partitions number preferred customers side by side. The
server here is FerretDB v1, which applies an $inc by reading and rewriting the document: two
writers could both read 5 and both write 6. Claims by unique inserts cannot collide.
"""

import asyncio

from query_service.read_model import layout
from query_service.read_model.store import ReadStore, open_database

ROUNDS = 40


async def test_two_stores_reserving_at_once_never_take_one_number_twice(
    mongodb_url: str, mongo_database: str
) -> None:
    async with (
        open_database(mongodb_url, mongo_database) as first_db,
        open_database(mongodb_url, mongo_database) as second_db,
    ):
        first, second = ReadStore(first_db), ReadStore(second_db)  # a lock of their own each

        async def take(store: ReadStore, count: int) -> list[int]:
            taken: list[int] = []
            for _ in range(ROUNDS):
                start = await store.lists.numbers.reserve(layout.PREFERRED_COUNTER, count)
                taken += range(start, start + count)
            return taken

        mine, theirs = await asyncio.gather(take(first, 1), take(second, 2))
        last = await first.lists.numbers.last(layout.PREFERRED_COUNTER)
    assert len(set(mine) | set(theirs)) == len(mine) + len(theirs) == 3 * ROUNDS
    assert not set(mine) & set(theirs)
    assert last == max(mine + theirs)  # the counter (and the claims past it) reach the last number
