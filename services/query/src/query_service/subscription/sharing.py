"""This replica's subscription to the events: the partitions it holds, shared with other replicas.

async with Subscription(connection, queues, consume, handle, prefetch, on_everything):
    await stopped.wait()            # on_everything(True/False): whether it alone projects them all

One mode: the unpartitioned event queue is one partition (CQRS_EVENT_PARTITIONS=1). Every replica
subscribes to every partition queue. Each queue has a single active consumer, so
whatever happens, one replica at a time projects a partition, and a dead replica's partitions go
to the ones waiting behind it. Which one should, partitions.owned says, from the replicas that
announce themselves on a fanout exchange every second. A replica handed events of a partition it
does not own finishes those it holds, cancels, and subscribes again at the back of the line: the
owner, waiting, takes over. Nothing is applied by two replicas at once: the one that steps back
settles everything it began before it cancels (Consumer.__aexit__), and what it had not begun goes
back to the queue with its channel. With one partition, whoever holds it keeps it (owned).

``projects_everything`` is the one rule the view cache and a rebuild ask: this replica was handed
events of every partition since it subscribed to each, and has lost none of those channels since.
"""

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from functools import partial
from types import TracebackType
from uuid import uuid4

import aio_pika
from aio_pika import RobustChannel
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    ExchangeType,
)
from aio_pika.exceptions import AMQPError

from cqrs_client.messaging import topology
from cqrs_client.messaging.channels import CLOSE_TIMEOUT_SECONDS, open_channel
from cqrs_client.messaging.envelope import Delivery
from cqrs_shared.messaging.consumer import DRAIN_TIMEOUT_SECONDS, Consumer, Handler, Outcome
from cqrs_shared.runtime.waiting import first_of
from query_service.subscription.event_queues import EventQueues
from query_service.subscription.partitions import Membership, owned, to_release

log = logging.getLogger(__name__)

ANNOUNCE_SECONDS = 1.0
# A replica unheard for this long has gone: its share is handed out again.
MEMBER_TTL_SECONDS = 3.5
REJOIN_SECONDS = 0.5

Consume = Callable[[AbstractQueue, Handler], Consumer]


class Subscription:
    """Holds a subscription to each partition queue and steps back from those another replica owns."""

    def __init__(
        self,
        connection: AbstractConnection,
        queues: EventQueues,
        consume: Consume,
        handle: Handler,
        prefetch: int,
        on_everything: Callable[[bool], None] = lambda _: None,
    ) -> None:
        self._connection = connection
        self._count = queues.count
        self._declare = queues.declare
        self._consume = consume
        self._on_everything = on_everything
        self._handle = handle
        self._prefetch = prefetch
        self.me = f"{socket.gethostname()}-{os.getpid()}-{uuid4().hex[:6]}"
        self._members = Membership(self.me, MEMBER_TTL_SECONDS)
        self._releases = [asyncio.Event() for _ in range(self._count)]
        self._stopped = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stack = AsyncExitStack()
        # Partitions whose events this replica was handed since it last subscribed.
        self._active: set[int] = set()
        self._everything = False

    def projects_everything(self) -> bool:
        """Whether this replica alone projects every partition now (the one writer of the read model)."""
        return self._everything

    def _settle(self, index: int, active: bool) -> None:
        """Partition ``index`` is active here, or no longer; tell whether that makes this replica the
        one that projects everything, before the event that made it so is applied."""
        (self._active.add if active else self._active.discard)(index)
        everything = len(self._active) == self._count
        if everything != self._everything:
            self._everything = everything
            self._on_everything(everything)

    async def __aenter__(self) -> "Subscription":
        await self._stack.__aenter__()
        subscribed = [asyncio.Event() for _ in range(self._count)]
        self._tasks = [
            asyncio.create_task(self._hold(index, subscribed[index]), name=f"partition {index}")
            for index in range(self._count)
        ]
        await asyncio.gather(*(event.wait() for event in subscribed))
        # Announced only once subscribed everywhere: a replica that steps back for this one then
        # finds it waiting in line.
        announcements = await self._listen()
        self._tasks.append(asyncio.create_task(self._announce(announcements), name="replica announcements"))
        self._tasks.append(asyncio.create_task(self._rebalance(), name="partition balance"))
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stopped.set()
        for release in self._releases:
            release.set()
        # Bounded: a task may wait on a robust channel that never comes back (aio-pika's ready()).
        _, hanging = await asyncio.wait(self._tasks, timeout=DRAIN_TIMEOUT_SECONDS + CLOSE_TIMEOUT_SECONDS)
        for task in hanging:
            log.warning("%s: still busy at shutdown; cancelled", task.get_name())
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._stack.__aexit__(kind, error, tb)

    def owned(self) -> frozenset[int]:
        return owned(self.me, self._members.alive(time.monotonic()), self._count)

    def replicas(self) -> int:
        """The query replicas heard from (this one included)."""
        return len(self._members.alive(time.monotonic()))

    def shared(self) -> int:
        """How many replicas share the partitions' projecting (1: one replica projects them all)."""
        return 1 if self._count == 1 else self.replicas()

    def _noting(self, index: int) -> Handler:
        """The handler, noting that partition ``index`` hands this replica events (it is active there)."""

        async def handle(delivery: Delivery) -> Outcome:
            self._settle(index, active=True)
            return await self._handle(delivery)

        return handle

    async def _hold(self, index: int, subscribed: asyncio.Event) -> None:
        """Subscribe to partition ``index`` until told to step back; then again, at the back."""
        while not self._stopped.is_set():
            release = self._releases[index]
            release.clear()
            self._settle(index, active=False)
            try:
                async with AsyncExitStack() as stack:
                    channel = await open_channel(stack, self._connection, prefetch=self._prefetch)
                    _on_loss(channel, partial(self._settle, index, active=False))
                    queue = await self._declare(channel, index)
                    async with self._consume(queue, self._noting(index)):
                        subscribed.set()
                        await release.wait()
                    # The consumer settled what it began; closing the channel returns the rest.
            except (AMQPError, OSError, RuntimeError) as error:
                log.warning("partition %d: cannot subscribe (%r); trying again", index, error)
                await first_of([self._stopped], REJOIN_SECONDS * 2)
                continue
            if not self._stopped.is_set():
                log.info("partition %d: stepped back for its owner", index)
                await first_of([self._stopped], REJOIN_SECONDS)

    async def _listen(self) -> AbstractExchange:
        """Hear the replicas' announcements; the exchange to make this one's on."""
        channel = await open_channel(self._stack, self._connection, confirms=False)
        exchange = await channel.declare_exchange(topology.REPLICAS_EXCHANGE, ExchangeType.FANOUT)
        queue = await channel.declare_queue(topology.replica_queue(self.me), exclusive=True, auto_delete=True)
        await queue.bind(exchange)
        await queue.consume(self._heard, no_ack=True)
        return exchange

    async def _heard(self, message: AbstractIncomingMessage) -> None:
        if message.body:
            self._members.heard(message.body.decode(errors="replace"), time.monotonic())

    async def _announce(self, exchange: AbstractExchange) -> None:
        while not self._stopped.is_set():
            try:
                await exchange.publish(aio_pika.Message(self.me.encode()), routing_key="")
            except (AMQPError, OSError, RuntimeError) as error:  # the connection comes back by itself
                log.debug("could not announce this replica: %r", error)
            await first_of([self._stopped], ANNOUNCE_SECONDS)

    async def _rebalance(self) -> None:
        before: frozenset[int] | None = None
        while not self._stopped.is_set():
            mine = self.owned()
            if mine != before:
                log.info("partitions of this replica: %s", sorted(mine))
                before = mine
            for index in to_release(mine, frozenset(self._active)):
                self._settle(index, active=False)
                self._releases[index].set()
            await first_of([self._stopped], ANNOUNCE_SECONDS)


def _on_loss(channel: AbstractChannel, lost: Callable[[], None]) -> None:
    """Losing the channel (or its restoring) ends being handed its partition: another replica may
    be given it meanwhile, until an event arrives here again."""
    channel.close_callbacks.add(lambda *_: lost())
    if isinstance(channel, RobustChannel):
        channel.reopen_callbacks.add(lambda *_: lost())
