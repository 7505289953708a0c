"""Where messages go: the channels (exchanges and queues of messaging/topology.py) and the operations.

Operations are the pair's own: ``receive`` is what a service takes in, ``send`` what it puts out.
"""

import re
from collections.abc import Iterable
from typing import Any

from cqrs_client.messaging import topology
from cqrs_contracts.events import routing_key
from cqrs_shared.asyncapi.messages import AMQP_BINDING, Message, amqp, answer_of, ref
from cqrs_shared.asyncapi.schemas import JsonSchema
from cqrs_shared.messaging.access import VHOST

QUEUES = [
    topology.COMMAND_QUEUE,
    topology.EVENT_QUEUE,
    topology.QUERY_QUEUE,
    topology.OPERATIONS_QUEUE,
    topology.STREAM_QUEUE,
    topology.TRANSFER_QUEUE,
]
STREAM_REQUESTS = ("ReadStream", "ListStreams", "ReadAll")
Groups = dict[str, list[Message]]


def _exchange(name: str, kind: str) -> JsonSchema:
    exchange = {"name": name, "type": kind, "durable": True, "autoDelete": False, "vhost": VHOST}
    return {"amqp": {"is": "routingKey", "exchange": exchange, "bindingVersion": AMQP_BINDING}}


def _queue(name: str, *, durable: bool = True) -> JsonSchema:
    temporary = not durable
    queue = {
        "name": name,
        "durable": durable,
        "exclusive": temporary,
        "autoDelete": temporary,
        "vhost": VHOST,
    }
    return {"amqp": {"is": "queue", "queue": queue, "bindingVersion": AMQP_BINDING}}


def _channel(address: str, description: str, names: Iterable[str], bindings: JsonSchema) -> JsonSchema:
    messages = {name: ref("components", "messages", name) for name in names}
    return {"address": address, "description": description, "messages": messages, "bindings": bindings}


def _parameter(values: Iterable[str], description: str, **more: str) -> JsonSchema:
    return {"enum": sorted(values), "description": description} | more


def _names(group: list[Message]) -> list[str]:
    return [message.name for message in group]


def channels(groups: Groups) -> JsonSchema:
    queries = [name for name in _names(groups["query"]) if name not in STREAM_REQUESTS]
    found = {
        "commands": _channel(
            "{commandType}",
            f"Commands: to the topic exchange `{topology.COMMANDS_EXCHANGE}`, the command type as routing "
            f"key; the command service reads them from `{topology.COMMAND_QUEUE}` (bound with `#`).",
            _names(groups["command"]),
            _exchange(topology.COMMANDS_EXCHANGE, "topic"),
        ),
        "events": _channel(
            "{eventKey}",
            f"Domain events: the topic exchange `{topology.EVENTS_EXCHANGE}`, routing key `<stream type>."
            f"<what happened>`; the query service subscribes with `{topology.EVENT_QUEUE}` (bound with `#`), "
            f"or, with CQRS_EVENT_PARTITIONS above 1, through the consistent-hash exchange "
            f"`{topology.PARTITIONS_EXCHANGE}` (hashing the `{topology.PARTITION_HEADER}` header) into "
            f"`{topology.EVENT_QUEUE}.0` .. `.N-1`. The command side's transfer process manager "
            f"subscribes with `{topology.TRANSFER_QUEUE}` (bound with "
            f"{', '.join(f'`{key}`' for key in topology.TRANSFER_KEYS)}). Anyone else subscribes with "
            f"queues of its own, `{topology.subscriber_queue('<user>')}` (the subscriber role), bound "
            "with a stream type's keys (`customer.*`, `account.*`, `transfer.*`): docs/subscribers.md.",
            _names(groups["event"]),
            _exchange(topology.EVENTS_EXCHANGE, "topic"),
        ),
        "queries": _channel(
            topology.QUERY_QUEUE,
            f"Queries: to the direct exchange `{topology.QUERIES_EXCHANGE}` with routing key "
            f"`{topology.QUERY_QUEUE}`, the query service's queue (the default exchange reaches it too). "
            f"The read model's operations (RebuildReadModel, GetProjectionStatus, VerifyStream) are "
            f"answered only on `{topology.OPERATIONS_QUEUE}`, through the default exchange, for the users "
            f"in CQRS_OPERATORS; sent here they are `forbidden`.",
            queries,
            _exchange(topology.QUERIES_EXCHANGE, "direct"),
        ),
        "streams": _channel(
            topology.STREAM_QUEUE,
            "The command side's event store, read-only: to the default exchange, the queue's name as "
            "routing key (the pair's services and its operators); or, for a subscriber catching up, to "
            f"the direct exchange `{topology.STREAMS_EXCHANGE}` with that routing key, answered only for "
            "the users in CQRS_EVENT_READERS (others: `forbidden`). ReadAll gives every stream's events "
            "in their global, gap-free commit order: docs/subscribers.md.",
            STREAM_REQUESTS,
            _queue(topology.STREAM_QUEUE),
        ),
        "replies": _channel(
            topology.DIRECT_REPLY_TO,
            "Replies: to the request's `reply_to` through the default exchange, not persistent; usually "
            f"`{topology.DIRECT_REPLY_TO}` (RabbitMQ's direct reply-to).",
            _names(groups["reply"]),
            _queue(topology.DIRECT_REPLY_TO, durable=False),
        ),
        "deadLetters": _channel(
            "{queue}",
            f"What a service could not handle: the direct exchange `{topology.DEAD_LETTER_EXCHANGE}`, the "
            f"queue's name as routing key, into `{topology.dead_letter_queue('<queue>')}` (`cqrs dlq`).",
            ["DeadLetter"],
            _exchange(topology.DEAD_LETTER_EXCHANGE, "direct"),
        ),
    }
    command_types = [message.type for message in groups["command"]]
    found["commands"]["parameters"] = {
        "commandType": _parameter(command_types, "the command's type", location="$message.payload#/type")
    }
    event_keys = [routing_key(message.type) for message in groups["event"]]
    found["events"]["parameters"] = {"eventKey": _parameter(event_keys, "each message's x-routing-key")}
    found["deadLetters"]["parameters"] = {"queue": _parameter(QUEUES, "the queue it was taken from")}
    return found


def _bound(key: str, bindings: Iterable[str]) -> bool:
    """Whether a topic exchange routes ``key`` by one of ``bindings`` (none of them holds a ``#``)."""
    return any(re.fullmatch(re.escape(binding).replace(r"\*", "[^.]+"), key) for binding in bindings)


def _operation(action: str, channel: str, names: Iterable[str], summary: str, **more: Any) -> JsonSchema:
    messages = [ref("channels", channel, "messages", name) for name in names]
    return {
        "action": action,
        "channel": ref("channels", channel),
        "messages": messages,
        "summary": summary,
    } | more


def _reply(names: Iterable[str]) -> JsonSchema:
    messages = [ref("channels", "replies", "messages", name) for name in names]
    address = {"location": "$message.header#/reply_to", "description": "the request's reply_to"}
    return {"channel": ref("channels", "replies"), "address": address, "messages": messages}


def _answer(query: Message) -> JsonSchema:
    channel = "streams" if query.name in STREAM_REQUESTS else "queries"
    result = answer_of(query)
    summary = f"Answer {query.name}: QueryOk with a {result.removeprefix('QueryOk.')}, or QueryFailed."
    reply = _reply([result, "QueryFailed"])
    return _operation("receive", channel, [query.name], summary, reply=reply, bindings=amqp(ack=True))


def operations(groups: Groups) -> JsonSchema:
    events = _names(groups["event"])
    found = {
        "receiveCommand": _operation(
            "receive",
            "commands",
            _names(groups["command"]),
            "The command service decides, commits, then replies: CommandAccepted or CommandRejected.",
            reply=_reply(["CommandAccepted", "CommandRejected"]),
            bindings=amqp(ack=True),
        ),
        "publishEvent": _operation(
            "send",
            "events",
            events,
            "The outbox relay publishes each committed event at least once, each stream in version order.",
            bindings=amqp(deliveryMode=2, mandatory=True, timestamp=True),
        ),
        "projectEvent": _operation(
            "receive",
            "events",
            events,
            "The query service applies events to its read model.",
            bindings=amqp(ack=True),
        ),
        "advanceTransfer": _operation(
            "receive",
            "events",
            [name for name in events if _bound(routing_key(name), topology.TRANSFER_KEYS)],
            f"The transfer process manager (command side, queue `{topology.TRANSFER_QUEUE}`) takes a "
            "transfer's events and the deposits and withdrawals of its steps, and gives the next step.",
            bindings=amqp(ack=True),
        ),
        "deadLetter": _operation(
            "send",
            "deadLetters",
            ["DeadLetter"],
            "What no retry can help is copied to its queue's dead-letter queue, the reason in its headers.",
            bindings=amqp(deliveryMode=2, mandatory=True),
        ),
    }
    return found | {f"answer{query.name}": _answer(query) for query in groups["query"]}
