"""A service's broker connections: one consumes (and carries dead letters, retries and the relay),
one replies, and one probes the first reply to each node (reply_path.py).

    links = await open_links(stack, settings.broker_urls(), settings.broker_user())
    links.connection, links.up, links.dead_letters, links.responder

Why replies are apart: RabbitMQ 3.10 closes the whole connection of a channel that publishes to a
direct reply-to address (``amq.rabbitmq.reply-to.<pid>.<key>``) it cannot decode, or whose node is
not running (541 INTERNAL_ERROR; its rabbit_channel:deliver_reply has no clause for the ``error``
decode_reply_to_v2 returns). Any client can send such an address, and every requester whose node
stopped left one behind in the queue. On the consuming connection, one reply to it dropped every
consumer and handed back every unacknowledged message, the same one included, which then dropped the
next connection: on a three-node cluster with a node stopped, the query service's connection failed
this way for 30 s and its watchdog stopped it; on one node, one such request a second stopped it.
Now an address whose node was never seen goes first to the probe's connection, alone, and only that
one is lost; the request is acknowledged on the consuming connection and does not come back.
"""

import asyncio
import logging
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from functools import partial

from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractRobustConnection
from aiormq.exceptions import ConnectionInternalError

from cqrs_client.messaging.channels import open_channel, open_connection
from cqrs_shared.messaging.reply_nodes import ReplyNodes
from cqrs_shared.messaging.reply_path import ReplyPath
from cqrs_shared.messaging.responder import Responder
from cqrs_shared.messaging.watchdog import count_losses, health

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Links:
    connection: AbstractRobustConnection  # consumers, dead letters, retries, the relay
    up: asyncio.Event  # set while both connections work (watchdog.health)
    dead_letters: AbstractChannel
    responder: Responder


async def open_links(stack: AsyncExitStack, urls: Sequence[str], publisher: str) -> Links:
    """The three connections, closed by ``stack``; dead letters and retries as ``publisher``.

    The probe connection is not watched: a client sending addresses that cost it could otherwise
    keep it down long enough for the watchdog to stop the service.
    """
    connection = await open_connection(stack, urls)
    replying = await open_connection(stack, urls)
    probing = await open_connection(stack, urls)
    dead_letters = await open_channel(stack, connection)
    path = await reply_path(stack, replying, probing)
    replying.close_callbacks.add(partial(_forget_on_crash, path.nodes))
    up = health({"consume": connection, "replies": replying})
    count_losses("probe", probing)
    return Links(connection, up, dead_letters, Responder(path, dead_letters, publisher))


async def reply_path(
    stack: AsyncExitStack, replying: AbstractConnection, probing: AbstractConnection
) -> ReplyPath:
    """Replies at once on ``replying`` (no confirms), probes on ``probing`` (confirmed)."""
    return ReplyPath(
        trusted=await open_channel(stack, replying, confirms=False),
        probe=await open_channel(stack, probing),
        nodes=ReplyNodes(time.monotonic),
    )


def _forget_on_crash(nodes: ReplyNodes, _: object, error: BaseException | None = None) -> None:
    """The broker closing the trusted replies' connection (541) means a trusted node has stopped."""
    if isinstance(error, ConnectionInternalError):
        log.warning("the broker closed the replies' connection (%r): each node's next reply is probed", error)
        nodes.forget_trusted()
