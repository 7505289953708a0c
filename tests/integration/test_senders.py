"""Who sent a message, across the copies a service makes of it (messaging/senders.py), on a broker
where the service's user may not impersonate: the roles as provisioning gives them."""

import asyncio
from contextlib import AsyncExitStack
from uuid import uuid4

import aio_pika
from aio_pika.abc import HeadersType

from cqrs_client.messaging import topology
from cqrs_client.messaging.channels import login, open_channel
from cqrs_client.messaging.envelope import Delivery
from cqrs_client.messaging.senders import SENDER_HEADER
from cqrs_shared.messaging.consumer import Consumer, Outcome
from cqrs_shared.messaging.links import reply_path
from cqrs_shared.messaging.responder import Responder
from cqrs_shared.messaging.retry import RetryPolicy
from tests.access import role_users
from tests.resources import Servers, fresh_vhost
from tests.waiting import until


async def test_a_retried_message_is_judged_as_its_first_sender_and_a_forged_sender_never(
    servers: Servers,
) -> None:
    """The first attempt fails, the retry queue hands the copy back: the copy is the service's
    (user_id), its sender the client's; the client's own header naming another sender counts for
    nothing, on the first delivery or after."""
    seen: list[tuple[str | None, str | None]] = []

    async def fails_once(delivery: Delivery) -> Outcome:
        seen.append((delivery.user_id, delivery.sender))
        if len(seen) == 1:
            raise ValueError("not yet")
        return Outcome()

    with fresh_vhost(servers.rabbitmq) as vhost:
        assert vhost is not None
        with role_users(servers.rabbitmq, vhost, {"service": "command", "client": "client"}) as users:
            service, client = users["service"], users["client"]
            retry = RetryPolicy(attempts=2, delay=0.05, max_delay=0.05)
            async with AsyncExitStack() as stack:
                connection = await aio_pika.connect_robust(service.url)
                await stack.enter_async_context(connection)
                channel = await open_channel(stack, connection, prefetch=4)
                _, queue = await topology.declare_commands(channel, retry_delays=retry.delays())
                responder = Responder(
                    await reply_path(stack, connection, connection), channel, login(service.url)
                )
                await stack.enter_async_context(
                    Consumer(queue, fails_once, responder, transient=lambda _: False, retry=retry)
                )
                sending = await aio_pika.connect(client.url)
                async with sending:
                    exchange = await (await sending.channel()).get_exchange(
                        topology.COMMANDS_EXCHANGE, ensure=False
                    )
                    forged: HeadersType = {SENDER_HEADER: "cqrs-admin"}
                    message = aio_pika.Message(
                        b"{}", message_id=str(uuid4()), headers=forged, user_id=client.name
                    )
                    await exchange.publish(message, routing_key="CreateCustomer")
                await until(lambda: asyncio.sleep(0, len(seen) == 2), what="the retried delivery")
    assert seen == [(client.name, client.name), (service.name, client.name)]
