"""The query service's event queues: one, or CQRS_EVENT_PARTITIONS partitions (messaging.topology)."""

from dataclasses import dataclass

from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractQueue

from cqrs_client.errors import TopologyMismatch
from cqrs_client.messaging import topology


@dataclass(frozen=True)
class EventQueues:
    count: int
    kind: topology.QueueKind
    retry_delays: tuple[float, ...]

    def names(self) -> list[str]:
        if self.count == 1:
            return [topology.EVENT_QUEUE]
        return [topology.event_partition(index) for index in range(self.count)]

    async def declare(self, channel: AbstractChannel, index: int) -> AbstractQueue:
        if self.count == 1:
            return await topology.declare_event_queue(channel, self.kind, self.retry_delays)
        return await topology.declare_event_partition(channel, index, self.kind, self.retry_delays)

    async def declare_all(
        self, connection: AbstractConnection, channel: AbstractChannel
    ) -> list[AbstractQueue]:
        """Every queue, once it is clear that no queue of another partitioning still takes events."""
        if self.count > 1:
            await _refuse_if_present(connection, topology.event_partition(self.count))
        return [await self.declare(channel, index) for index in range(self.count)]


async def _refuse_if_present(connection: AbstractConnection, name: str) -> None:
    """A partition beyond the configured ones would keep receiving the events hashed to it, which
    no replica reads: the events were partitioned by more before, and that must be undone first."""
    if await topology.exists(connection, name):
        raise TopologyMismatch(
            f"queue {name!r} exists: the events were split into more partitions than "
            f"CQRS_EVENT_PARTITIONS says. Once every partition queue is empty, delete the ones from "
            f"{name!r} on (rabbitmqctl delete_queue -p cqrs {name}, ...) or set the number they had"
        )
