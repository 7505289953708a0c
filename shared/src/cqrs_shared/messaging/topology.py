"""Every exchange, queue and routing key of the pair, spelled here and nowhere else."""

from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue, ExchangeType, FieldValue
from aio_pika.exceptions import ChannelPreconditionFailed

from cqrs_shared.errors import TopologyMismatch

COMMANDS_EXCHANGE = "cqrs.commands"
EVENTS_EXCHANGE = "cqrs.events"
QUERIES_EXCHANGE = "cqrs.queries"
DEAD_LETTER_EXCHANGE = "cqrs.dead-letter"

COMMAND_QUEUE = "command-service.commands"
STREAM_QUEUE = "command-service.streams"
EVENT_QUEUE = "query-service.events"
QUERY_QUEUE = "query-service.rpc"

DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"


def retry_queue(queue: str, delay: float) -> str:
    """Where a message of ``queue`` waits ``delay`` seconds (at most) before it goes back to ``queue``."""
    return f"{queue}.retry.{delay:g}s"


def dead_letter_queue(queue: str) -> str:
    """The queue that keeps what ``queue`` could not handle, with the reason in its headers."""
    return f"{queue}.dlq"


async def declare_queue(
    channel: AbstractChannel,
    name: str,
    *,
    single_active_consumer: bool = False,
    retry_delays: tuple[float, ...] = (),
) -> AbstractQueue:
    """A durable queue whose rejects go to its own dead-letter queue, with a retry queue per delay.

    With ``single_active_consumer`` the broker delivers to one consumer at a time; the others wait
    and take over, with whatever is unacknowledged, when it goes. A retry queue holds each message
    until its expiration, then dead-letters it back to ``name`` (through the default exchange).
    """
    for delay in retry_delays:
        back: dict[str, FieldValue] = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": name}
        await _declare(channel, retry_queue(name, delay), back)
    dlx = await channel.declare_exchange(DEAD_LETTER_EXCHANGE, ExchangeType.DIRECT, durable=True)
    dlq = await channel.declare_queue(dead_letter_queue(name), durable=True)
    await dlq.bind(dlx, routing_key=name)
    arguments: dict[str, FieldValue] = {
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": name,
    }
    if single_active_consumer:
        arguments["x-single-active-consumer"] = True
    return await _declare(channel, name, arguments)


async def _declare(channel: AbstractChannel, name: str, arguments: dict[str, FieldValue]) -> AbstractQueue:
    try:
        return await channel.declare_queue(name, durable=True, arguments=arguments)
    except ChannelPreconditionFailed as error:
        raise TopologyMismatch(
            f"queue {name!r} exists with other arguments than {arguments} ({error}); "
            f"once it is drained, delete it (rabbitmqctl delete_queue {name}) and start again"
        ) from None


async def declare_commands(
    channel: AbstractChannel, retry_delays: tuple[float, ...] = ()
) -> tuple[AbstractExchange, AbstractQueue]:
    exchange = await channel.declare_exchange(COMMANDS_EXCHANGE, ExchangeType.TOPIC, durable=True)
    queue = await declare_queue(channel, COMMAND_QUEUE, retry_delays=retry_delays)
    await queue.bind(exchange, routing_key="#")
    return exchange, queue


async def declare_queries(channel: AbstractChannel) -> AbstractExchange:
    """Where clients send queries: a direct exchange, so that a client needs write permission on it
    and not on the default exchange (which reaches every queue by name)."""
    return await channel.declare_exchange(QUERIES_EXCHANGE, ExchangeType.DIRECT, durable=True)


async def declare_query_queue(channel: AbstractChannel) -> AbstractQueue:
    """The query service's RPC queue, bound to ``cqrs.queries`` by its own name."""
    exchange = await declare_queries(channel)
    queue = await declare_queue(channel, QUERY_QUEUE)
    await queue.bind(exchange, routing_key=QUERY_QUEUE)
    return queue


async def declare_events(channel: AbstractChannel) -> AbstractExchange:
    return await channel.declare_exchange(EVENTS_EXCHANGE, ExchangeType.TOPIC, durable=True)


async def declare_event_queue(
    channel: AbstractChannel, retry_delays: tuple[float, ...] = ()
) -> AbstractQueue:
    """The query service's subscription: every event of every stream type.

    One replica projects at a time; the others stand by. FerretDB v1 updates a document by reading
    and rewriting all of it, so two projectors writing one customer document could lose a write
    that version gates cannot see; one active consumer that serialises per customer cannot.
    """
    exchange = await declare_events(channel)
    queue = await declare_queue(channel, EVENT_QUEUE, single_active_consumer=True, retry_delays=retry_delays)
    await queue.bind(exchange, routing_key="#")
    return queue
