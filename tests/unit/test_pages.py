"""pages(): the one loop that reads a stream page by page (gap repair, rebuild, verify)."""

from uuid import UUID, uuid4

from cqrs_contracts import EventEnvelope
from query_service.projection.repair import pages
from tests.builders import savings

ACCOUNT, OWNER = uuid4(), uuid4()
EVENTS = savings(ACCOUNT, OWNER, deposits=24)  # versions 1-25


class Reader:
    """A command side that serves ``size`` events a page, counting its reads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.reads: list[int] = []

    async def __call__(self, stream_id: UUID, after: int) -> list[EventEnvelope]:
        self.reads.append(after)
        return list(reversed(EVENTS[after : after + self.size]))  # in no particular order


async def read_all(reader: Reader, after: int = 0, **options: object) -> list[list[int]]:
    return [[item.version for item in page] async for page in pages(reader, ACCOUNT, after, **options)]  # type: ignore[arg-type]


async def test_pages_come_in_version_order_until_an_empty_one() -> None:
    reader = Reader(10)
    assert await read_all(reader) == [list(range(1, 11)), list(range(11, 21)), list(range(21, 26))]
    assert reader.reads == [0, 10, 20, 25]


async def test_a_page_shorter_than_the_readers_is_the_last_and_no_empty_one_is_read() -> None:
    reader = Reader(10)
    assert len(await read_all(reader, page_size=10)) == 3
    assert reader.reads == [0, 10, 20]


async def test_reading_stops_at_the_version_asked_for() -> None:
    reader = Reader(10)
    assert await read_all(reader, 3, until=14) == [list(range(4, 14)), [14]]
    assert reader.reads == [3, 13]


async def test_a_page_read_before_is_given_first_and_the_reading_goes_on_past_it() -> None:
    reader = Reader(10)
    first = EVENTS[:5]  # short, yet not the end: read before a lock, the stream may have grown
    assert await read_all(reader, 2, first=first, page_size=10) == [
        [3, 4, 5],
        list(range(6, 16)),
        list(range(16, 26)),
    ]
    assert reader.reads == [5, 15, 25]
