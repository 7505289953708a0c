"""Where a reply is published: at once on the trusted replies' channel, or first as a probe (reply_nodes.py).

    path = ReplyPath(trusted=channel, probe=confirming_channel, nodes=ReplyNodes(time.monotonic))
    await path.send(message, reply_to)   # published, or dropped if its requester is failing

A probe goes alone (one at a time) on a confirming channel of a connection of its own: a probe the
broker confirms trusts its node; one that costs the connection (541 INTERNAL_ERROR) was its own
doing, so its requester is marked failing and the reply dropped. While the probe's connection is coming
back, a reply to an unknown node is dropped at once rather than waited with: measured, a client
sending 20 addresses of made-up nodes a second otherwise held the consumer's slots in that wait,
and 4 askers got 268 answers in 10 s instead of 2,031. A probe that fails otherwise raises, and the
request is requeued as after any failed reply. A dropped reply's request is settled (acknowledged):
its requester, if there is one, asks again.
"""

import asyncio
import logging

from aio_pika.abc import AbstractChannel, AbstractMessage
from aiormq.exceptions import ConnectionInternalError

from cqrs_client.messaging.publishing import publish
from cqrs_shared.messaging.reply_nodes import FAILING_SECONDS, ReplyNodes, Target, reply_target
from cqrs_shared.observability import metrics

log = logging.getLogger(__name__)


class ReplyPath:
    def __init__(self, trusted: AbstractChannel, probe: AbstractChannel, nodes: ReplyNodes) -> None:
        self._trusted = trusted
        self._probe = probe
        self.nodes = nodes
        self._probing = asyncio.Lock()

    async def send(self, message: AbstractMessage, reply_to: str) -> None:
        target = reply_target(reply_to)
        if target is None or self.nodes.verdict(target) == "trusted":
            await self._at_once(message, reply_to)
            return
        async with self._probing:  # alone: a probe that costs the connection is known by it
            verdict = self.nodes.verdict(target)  # again: a probe before this one may have decided it
            if verdict == "trusted":
                await self._at_once(message, reply_to)
            elif verdict == "failing":
                metrics.REPLIES_DROPPED.labels("address_failing").inc()
            elif self._probe.is_closed:  # cost by an earlier probe, and not back yet: no waiting
                metrics.REPLIES_DROPPED.labels("probe_unavailable").inc()
            else:
                await self._probed(message, reply_to, target)

    async def _at_once(self, message: AbstractMessage, reply_to: str) -> None:
        # mandatory=False: a reply to amq.rabbitmq.reply-to with mandatory comes back as returned.
        await publish(self._trusted.default_exchange, message, reply_to, mandatory=False)

    async def _probed(self, message: AbstractMessage, reply_to: str, target: Target) -> None:
        try:
            await publish(self._probe.default_exchange, message, reply_to, mandatory=False)
        except ConnectionInternalError:
            self.nodes.failed(target)
            metrics.REPLIES_DROPPED.labels("address_failing").inc()
            log.warning(
                "the broker closed the connection of a reply to %.80s (a node not running, or an "
                "address that names none); no reply goes there for %.0f s",
                reply_to,
                FAILING_SECONDS,
            )
            return
        self.nodes.confirmed(target)
