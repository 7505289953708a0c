"""Read a stream's events from the command side over RPC (never from its database)."""

from uuid import UUID

from aio_pika.abc import AbstractExchange
from pydantic import TypeAdapter

from cqrs_shared.contracts import EventEnvelope, Metadata, ReadStream, StreamEvents
from cqrs_shared.contracts.replies import QueryFailed, QueryOk
from cqrs_shared.messaging.rpc import RpcClient
from cqrs_shared.messaging.topology import STREAM_QUEUE
from query_service.errors import RepairFailed

_REPLY = TypeAdapter[QueryOk[StreamEvents] | QueryFailed](QueryOk[StreamEvents] | QueryFailed)


class StreamReader:
    def __init__(self, rpc: RpcClient, exchange: AbstractExchange, timeout: float) -> None:
        self._rpc = rpc
        self._exchange = exchange
        self._timeout = timeout

    async def __call__(self, stream_id: UUID, after_version: int) -> list[EventEnvelope]:
        request = ReadStream(stream_id=stream_id, after_version=after_version)
        body = await self._rpc.call(
            self._exchange,
            STREAM_QUEUE,
            request.model_dump_json().encode(),
            Metadata(type=request.type),
            timeout=self._timeout,
        )
        reply = _REPLY.validate_json(body)
        if isinstance(reply, QueryFailed):
            raise RepairFailed(f"command side could not read stream {stream_id}: {reply.error.message}")
        return reply.result.events
