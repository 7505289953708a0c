"""Read the event store from the command side over RPC (never from its database): one stream's
events after a version (gap repair, rebuild, verify), a page of the list of streams (rebuild), or
the events of all streams after a global position (catch-up);
and pages(), the one loop that reads a stream page by page, which all three use."""

from collections.abc import AsyncIterator, Awaitable, Callable
from uuid import UUID

from aio_pika.abc import AbstractExchange
from pydantic import TypeAdapter

from cqrs_client.messaging.rpc import RpcClient
from cqrs_client.messaging.topology import STREAM_QUEUE
from cqrs_contracts import (
    EventEnvelope,
    ListStreams,
    Metadata,
    PositionedEvents,
    ReadAll,
    StreamEvents,
    StreamList,
)
from cqrs_contracts import ReadStream as ReadStreamQuery
from cqrs_contracts.replies import QueryFailed, QueryOk
from query_service.errors import RepairFailed

# A stream's events after a version, a page at most: StreamReader, or a fake in the unit tests.
ReadStream = Callable[[UUID, int], Awaitable[list[EventEnvelope]]]
# The most events the command side answers with at once: a shorter page is the stream's last.
PAGE = int(ReadStreamQuery.model_fields["limit"].default)


async def pages(
    read_stream: ReadStream,
    stream_id: UUID,
    after: int,
    *,
    until: int | None = None,
    first: list[EventEnvelope] | None = None,
    page_size: int | None = None,
) -> AsyncIterator[list[EventEnvelope]]:
    """The stream's events after version ``after`` (up to ``until``), a page at a time, each in
    version order. It ends at an empty page, once ``until`` is reached, or, given the ``page_size``
    the reader answers with (PAGE: StreamReader's), at a shorter page, saving the read of an empty
    one. ``first``: a page read already, given first; the reading goes on past it whatever its
    length (a rebuild reads it before taking its lock).
    """
    page = first
    while until is None or after < until:
        read = await read_stream(stream_id, after) if page is None else page
        wanted = sorted(
            (item for item in read if item.version > after and (until is None or item.version <= until)),
            key=lambda item: item.version,
        )
        if wanted:
            yield wanted
            after = wanted[-1].version
        if page is None and (not read or (page_size is not None and len(read) < page_size)):
            return
        page = None


_REPLY = TypeAdapter[QueryOk[StreamEvents] | QueryFailed](QueryOk[StreamEvents] | QueryFailed)
_POSITIONED = TypeAdapter[QueryOk[PositionedEvents] | QueryFailed](QueryOk[PositionedEvents] | QueryFailed)
_LISTED = TypeAdapter[QueryOk[StreamList] | QueryFailed](QueryOk[StreamList] | QueryFailed)


class StreamReader:
    def __init__(self, rpc: RpcClient, exchange: AbstractExchange, timeout: float) -> None:
        self._rpc = rpc
        self._exchange = exchange
        self._timeout = timeout

    async def __call__(self, stream_id: UUID, after_version: int) -> list[EventEnvelope]:
        reply = _REPLY.validate_json(
            await self._ask(ReadStreamQuery(stream_id=stream_id, after_version=after_version))
        )
        if isinstance(reply, QueryFailed):
            raise RepairFailed(f"command side could not read stream {stream_id}: {reply.error.message}")
        return reply.result.events

    async def list_streams(self, after: UUID | None) -> StreamList:
        reply = _LISTED.validate_json(await self._ask(ListStreams(after=after)))
        if isinstance(reply, QueryFailed):
            raise RepairFailed(f"command side could not list its streams: {reply.error.message}")
        return reply.result

    async def read_all(self, after_position: int, limit: int) -> PositionedEvents:
        """The events of every stream after a global position (catch-up.py)."""
        reply = _POSITIONED.validate_json(
            await self._ask(ReadAll(after_position=after_position, limit=limit))
        )
        if isinstance(reply, QueryFailed):
            raise RepairFailed(f"command side could not read its events: {reply.error.message}")
        result = reply.result
        if any(item.position is None for item in result.events):
            raise RepairFailed("command side answered ReadAll with events without positions")
        return result

    async def head(self) -> int:
        """The event store's last global position."""
        return (await self.read_all(0, 1)).head

    async def _ask(self, request: ReadStreamQuery | ListStreams | ReadAll) -> bytes:
        return await self._rpc.call(
            self._exchange,
            STREAM_QUEUE,
            request.model_dump_json().encode(),
            Metadata(type=request.type),
            timeout=self._timeout,
        )
