"""Every exchange, queue and routing key of the pair, spelled here and nowhere else."""

from dataclasses import dataclass
from typing import Literal

from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractQueue,
    ExchangeType,
    FieldValue,
)
from aio_pika.exceptions import ChannelNotFoundEntity, ChannelPreconditionFailed

from cqrs_client.errors import TopologyMismatch

COMMANDS_EXCHANGE = "cqrs.commands"
EVENTS_EXCHANGE = "cqrs.events"
QUERIES_EXCHANGE = "cqrs.queries"
DEAD_LETTER_EXCHANGE = "cqrs.dead-letter"

COMMAND_QUEUE = "command-service.commands"
STREAM_QUEUE = "command-service.streams"
# The door of outside readers (subscribers catching up: ReadAll) to the stream queue: a direct
# exchange to which only that queue is bound, by its name. The pair's services and its operators
# reach the queue through the default exchange, which reaches every queue by name and which no
# subscriber may write to; what comes through this door the command service answers only for the
# users in CQRS_EVENT_READERS.
STREAMS_EXCHANGE = "cqrs.streams"
# The transfer process manager's events (command_service/process): the transfers' own, and the
# deposits and withdrawals among which its steps are.
TRANSFER_QUEUE = "command-service.transfers"
TRANSFER_KEYS = ("transfer.*", "account.money_deposited", "account.money_withdrawn")
EVENT_QUEUE = "query-service.events"
QUERY_QUEUE = "query-service.rpc"
# The read model's operations (rebuild, status, verify): reached only through the default exchange,
# which no client may write to, and answered only for the operators' users (CQRS_OPERATORS).
OPERATIONS_QUEUE = "query-service.operations"
# How many operations the query service answers at once (its prefetch on that queue), and so the most
# a tool sends at once: a request queued behind others would spend its timeout waiting its turn
# (a verify of 8 at once timed out when each stream took the 5 s a view behind is given).
OPERATIONS_AT_ONCE = 4

DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"

# With more than one partition, events reach the query service through a consistent-hash exchange
# (the rabbitmq_consistent_hash_exchange plugin, shipped with RabbitMQ) that hashes this header:
# the id of the customer whose documents the event changes (contracts.partition_key).
PARTITIONS_EXCHANGE = "cqrs.events.partitioned"
PARTITION_HEADER = "partition-key"
# An event's global position, as a header: a body with a field the previous release does not know
# would be refused by its (strict) reader during a rolling upgrade (tests/e2e/test_rolling_upgrade.py).
POSITION_HEADER = "position"
# Points each partition queue takes on the hash ring: more points, a more even share.
PARTITION_WEIGHT = "100"

# Query replicas announce themselves here, each to all (query_service.subscription.sharing), each listening on
# a queue of its own that goes with its connection.
REPLICAS_EXCHANGE = "cqrs.query-replicas"


def replica_queue(replica: str) -> str:
    return f"query-service.replica.{replica}"


# Outside readers of the events (the subscriber role, messaging/access.py) name their queues, and any
# exchange of theirs (a dead-letter exchange, say), after their RabbitMQ user: subscriber.<user> and
# subscriber.<user>.<anything>.
SUBSCRIBER_PREFIX = "subscriber"


def subscriber_queue(user: str, *suffix: str) -> str:
    """``user``'s queue, or with ``suffix`` another of its names: subscriber_queue("ledger", "dlq")."""
    return ".".join((SUBSCRIBER_PREFIX, user, *suffix))


QueueType = Literal["classic", "quorum"]


@dataclass(frozen=True)
class QueueKind:
    """Of what type the pair's durable queues are: classic (one node) or quorum (replicated on a
    cluster's nodes, a delivery limit, dead-lettering at least once)."""

    type: QueueType = "classic"
    delivery_limit: int = 200

    def arguments(self) -> dict[str, FieldValue]:
        if self.type == "classic":
            return {}  # what queues were declared with before quorum queues existed here
        return {
            "x-queue-type": "quorum",
            "x-delivery-limit": self.delivery_limit,
            "x-dead-letter-strategy": "at-least-once",
        }

    def parked_arguments(self) -> dict[str, FieldValue]:
        """A dead-letter queue's: the type only, no delivery limit (it has nowhere to send further)."""
        return {} if self.type == "classic" else {"x-queue-type": "quorum"}


CLASSIC = QueueKind()


MAX_PARTITIONS = 64


def event_partition(index: int) -> str:
    """The queue of partition ``index`` (0, 1, ...) of the query service's events."""
    return f"{EVENT_QUEUE}.{index}"


EVENT_PARTITIONS = tuple(event_partition(index) for index in range(MAX_PARTITIONS))


def retry_queue(queue: str, delay: float) -> str:
    """Where a message of ``queue`` waits ``delay`` seconds (at most) before it goes back to ``queue``."""
    return f"{queue}.retry.{delay:g}s"


def dead_letter_queue(queue: str) -> str:
    """The queue that keeps what ``queue`` could not handle, with the reason in its headers."""
    return f"{queue}.dlq"


async def declare_queue(
    channel: AbstractChannel,
    name: str,
    kind: QueueKind = CLASSIC,
    *,
    single_active_consumer: bool = False,
    retry_delays: tuple[float, ...] = (),
) -> AbstractQueue:
    """A durable queue whose rejects go to its own dead-letter queue, with a retry queue per delay.

    With ``single_active_consumer`` the broker delivers to one consumer at a time; the others wait
    and take over, with whatever is unacknowledged, when it goes. A retry queue holds each message
    until its expiration, then dead-letters it back to ``name`` (through the default exchange).
    A quorum queue also dead-letters a message delivered ``kind.delivery_limit`` times (x-death
    reason ``delivery_limit``): one that keeps a consumer from ever settling it.
    """
    typed = kind.arguments()
    for delay in retry_delays:
        back: dict[str, FieldValue] = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": name}
        await _declare(channel, retry_queue(name, delay), {**typed, **back})
    dlx = await channel.declare_exchange(DEAD_LETTER_EXCHANGE, ExchangeType.DIRECT, durable=True)
    dlq = await _declare(channel, dead_letter_queue(name), kind.parked_arguments())
    await dlq.bind(dlx, routing_key=name)
    arguments: dict[str, FieldValue] = {
        **typed,
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": name,
    }
    if single_active_consumer:
        arguments["x-single-active-consumer"] = True
    return await _declare(channel, name, arguments)


async def exists(connection: AbstractConnection, name: str, timeout: float | None = None) -> bool:
    """Whether queue ``name`` exists, by a passive declare (which creates nothing) on a channel of its
    own: the broker closes the channel a missing queue was asked on."""
    async with connection.channel(publisher_confirms=False) as channel:
        try:
            await channel.declare_queue(name, passive=True, timeout=timeout)
        except ChannelNotFoundEntity:
            return False
    return True


async def _declare(channel: AbstractChannel, name: str, arguments: dict[str, FieldValue]) -> AbstractQueue:
    try:
        return await channel.declare_queue(name, durable=True, arguments=arguments)
    except ChannelPreconditionFailed as error:
        if "x-queue-type" in str(error):
            raise TopologyMismatch(
                f"queue {name!r} exists with another type than CQRS_QUEUE_TYPE says ({error}); set "
                "CQRS_QUEUE_TYPE to the type the queues have, or, once they are drained, delete them "
                f"(rabbitmqctl delete_queue {name}, and the pair's other queues of that type: their "
                ".dlq and .retry.* queues too) and start again"
            ) from None
        raise TopologyMismatch(
            f"queue {name!r} exists with other arguments than {arguments} ({error}); "
            f"once it is drained, delete it (rabbitmqctl delete_queue {name}) and start again"
        ) from None


async def declare_commands(
    channel: AbstractChannel, kind: QueueKind = CLASSIC, retry_delays: tuple[float, ...] = ()
) -> tuple[AbstractExchange, AbstractQueue]:
    exchange = await channel.declare_exchange(COMMANDS_EXCHANGE, ExchangeType.TOPIC, durable=True)
    queue = await declare_queue(channel, COMMAND_QUEUE, kind, retry_delays=retry_delays)
    await queue.bind(exchange, routing_key="#")
    return exchange, queue


async def declare_stream_queue(channel: AbstractChannel, kind: QueueKind = CLASSIC) -> AbstractQueue:
    """The command side's stream reads' queue, bound to ``cqrs.streams`` by its own name."""
    exchange = await channel.declare_exchange(STREAMS_EXCHANGE, ExchangeType.DIRECT, durable=True)
    queue = await declare_queue(channel, STREAM_QUEUE, kind)
    await queue.bind(exchange, routing_key=STREAM_QUEUE)
    return queue


async def declare_transfer_queue(channel: AbstractChannel, kind: QueueKind = CLASSIC) -> AbstractQueue:
    """The transfer process manager's subscription: the events that can be its steps (TRANSFER_KEYS).
    Replicas compete for it; each transfer's moves are serialised by its row in PostgreSQL."""
    exchange = await declare_events(channel)
    queue = await declare_queue(channel, TRANSFER_QUEUE, kind)
    for key in TRANSFER_KEYS:
        await queue.bind(exchange, routing_key=key)
    return queue


# The exchanges a client sends to, as the services declare them (a client declares nothing else).
CLIENT_EXCHANGES = {COMMANDS_EXCHANGE: ExchangeType.TOPIC, QUERIES_EXCHANGE: ExchangeType.DIRECT}


async def declare_queries(channel: AbstractChannel) -> AbstractExchange:
    """Where clients send queries: a direct exchange, so that a client needs write permission on it
    and not on the default exchange (which reaches every queue by name)."""
    return await channel.declare_exchange(QUERIES_EXCHANGE, ExchangeType.DIRECT, durable=True)


async def declare_query_queue(channel: AbstractChannel, kind: QueueKind = CLASSIC) -> AbstractQueue:
    """The query service's RPC queue, bound to ``cqrs.queries`` by its own name."""
    exchange = await declare_queries(channel)
    queue = await declare_queue(channel, QUERY_QUEUE, kind)
    await queue.bind(exchange, routing_key=QUERY_QUEUE)
    return queue


async def declare_operations_queue(channel: AbstractChannel, kind: QueueKind = CLASSIC) -> AbstractQueue:
    """The operators' queue of the query service: bound to no exchange, so only a user that may write
    to the default exchange (the services, the admin role) reaches it."""
    return await declare_queue(channel, OPERATIONS_QUEUE, kind)


async def declare_events(channel: AbstractChannel) -> AbstractExchange:
    return await channel.declare_exchange(EVENTS_EXCHANGE, ExchangeType.TOPIC, durable=True)


async def declare_event_queue(
    channel: AbstractChannel, kind: QueueKind = CLASSIC, retry_delays: tuple[float, ...] = ()
) -> AbstractQueue:
    """The query service's subscription when its events are not partitioned: every event.

    One replica projects at a time; the others stand by. FerretDB v1 updates a document by reading
    and rewriting all of it, so two projectors writing one customer document could lose a write
    that version gates cannot see; one active consumer that serialises per customer cannot.
    """
    exchange = await declare_events(channel)
    queue = await declare_queue(
        channel, EVENT_QUEUE, kind, single_active_consumer=True, retry_delays=retry_delays
    )
    await queue.bind(exchange, routing_key="#")
    return queue


async def declare_event_partition(
    channel: AbstractChannel, index: int, kind: QueueKind = CLASSIC, retry_delays: tuple[float, ...] = ()
) -> AbstractQueue:
    """Partition ``index`` of the query service's events: the events of the customers the hash ring
    gives it, each customer's in order. A single active consumer each, as the unpartitioned queue
    (declare_event_queue says why); replicas share the partitions (query_service.subscription.partitions)."""
    events = await declare_events(channel)
    hashing = await channel.declare_exchange(
        PARTITIONS_EXCHANGE,
        ExchangeType.X_CONSISTENT_HASH,
        durable=True,
        arguments={"hash-header": PARTITION_HEADER},
    )
    await hashing.bind(events, routing_key="#")
    queue = await declare_queue(
        channel, event_partition(index), kind, single_active_consumer=True, retry_delays=retry_delays
    )
    await queue.bind(hashing, routing_key=PARTITION_WEIGHT)
    return queue
