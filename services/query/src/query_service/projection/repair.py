"""Read the event store from the command side over RPC (never from its database): one stream's
events after a version (gap repair, rebuild, verify), or a page of the list of streams (rebuild)."""

from uuid import UUID

from aio_pika.abc import AbstractExchange
from pydantic import TypeAdapter

from cqrs_shared.contracts import EventEnvelope, ListStreams, Metadata, ReadStream, StreamEvents, StreamList
from cqrs_shared.contracts.replies import QueryFailed, QueryOk
from cqrs_shared.messaging.rpc import RpcClient
from cqrs_shared.messaging.topology import STREAM_QUEUE
from query_service.errors import RepairFailed

_REPLY = TypeAdapter[QueryOk[StreamEvents] | QueryFailed](QueryOk[StreamEvents] | QueryFailed)
_LISTED = TypeAdapter[QueryOk[StreamList] | QueryFailed](QueryOk[StreamList] | QueryFailed)


class StreamReader:
    def __init__(self, rpc: RpcClient, exchange: AbstractExchange, timeout: float) -> None:
        self._rpc = rpc
        self._exchange = exchange
        self._timeout = timeout

    async def __call__(self, stream_id: UUID, after_version: int) -> list[EventEnvelope]:
        reply = _REPLY.validate_json(
            await self._ask(ReadStream(stream_id=stream_id, after_version=after_version))
        )
        if isinstance(reply, QueryFailed):
            raise RepairFailed(f"command side could not read stream {stream_id}: {reply.error.message}")
        return reply.result.events

    async def list_streams(self, after: UUID | None) -> StreamList:
        reply = _LISTED.validate_json(await self._ask(ListStreams(after=after)))
        if isinstance(reply, QueryFailed):
            raise RepairFailed(f"command side could not list its streams: {reply.error.message}")
        return reply.result

    async def _ask(self, request: ReadStream | ListStreams) -> bytes:
        return await self._rpc.call(
            self._exchange,
            STREAM_QUEUE,
            request.model_dump_json().encode(),
            Metadata(type=request.type),
            timeout=self._timeout,
        )
