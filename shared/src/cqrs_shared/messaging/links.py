"""A service's two broker connections: one consumes (and carries dead letters, retries and the relay),
the other only replies.

    links = await open_links(stack, settings.broker_urls(), settings.broker_user())
    links.connection, links.up, links.dead_letters, links.responder

Why replies have a connection of their own: RabbitMQ 3.10 closes the whole connection of a channel
that publishes to a direct reply-to address (``amq.rabbitmq.reply-to.<pid>.<key>``) it cannot
decode, or whose node is not running (541 INTERNAL_ERROR; its rabbit_channel:deliver_reply has no
clause for the ``error`` decode_reply_to_v2 returns). Any client can send such an address, and every
requester whose node stopped left one behind in the queue. On the consuming connection, one reply to
it dropped every consumer and handed back every unacknowledged message, the same one included, which
then dropped the next connection: on a three-node cluster with a node stopped, the query service's
connection failed this way for 30 s and its watchdog stopped it. Here such a reply closes only the
replies' connection: the replies in flight on it are lost (their requesters ask again, as after any
lost reply), the request is acknowledged on the consuming connection and does not come back, and
the replies' connection is back within a second (``cqrs_broker_connection_losses{connection="replies"}``).
"""

import asyncio
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass

from aio_pika.abc import AbstractChannel, AbstractRobustConnection

from cqrs_client.messaging.channels import open_channel, open_connection
from cqrs_shared.messaging.responder import Responder
from cqrs_shared.messaging.watchdog import health


@dataclass(frozen=True)
class Links:
    connection: AbstractRobustConnection  # consumers, dead letters, retries, the relay
    up: asyncio.Event  # set while both connections work (watchdog.health)
    dead_letters: AbstractChannel
    responder: Responder


async def open_links(stack: AsyncExitStack, urls: Sequence[str], publisher: str) -> Links:
    """Both connections, closed by ``stack``; dead letters and retries as ``publisher``."""
    connection = await open_connection(stack, urls)
    replying = await open_connection(stack, urls)
    dead_letters = await open_channel(stack, connection)
    replies = await open_channel(stack, replying, confirms=False)
    up = health({"consume": connection, "replies": replying})
    return Links(connection, up, dead_letters, Responder(replies, dead_letters, publisher))
