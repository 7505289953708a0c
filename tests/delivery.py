"""Customers created through a fault: each command sent until it is answered, then seen in the view,
and counted in the event store. Shared by the tests that cut, kill or stop things under load."""

from uuid import UUID, uuid4

import asyncpg

from cqrs_client.client import CqrsClient
from cqrs_client.errors import RemoteError, RequestTimeout
from cqrs_contracts import CommandAccepted, CreateCustomer, CustomerView, GetCustomer
from tests.waiting import until


async def created(client: CqrsClient, customer_id: UUID) -> CommandAccepted:
    """Send until a reply comes: a reply lost with the connection is asked for again, same id."""
    command_id = uuid4()
    command = CreateCustomer(customer_id=customer_id, name="Through the cut", locale="en")

    async def sent() -> CommandAccepted | None:
        try:
            reply = await client.send(command, command_id=command_id)
        except RequestTimeout:
            return None
        assert isinstance(reply, CommandAccepted), reply
        return reply

    return await until(sent, timeout=90, what=f"a reply for {customer_id}")


async def visible(client: CqrsClient, customer_id: UUID) -> CustomerView | None:
    try:
        return await client.ask(GetCustomer(customer_id=customer_id, min_version=1))
    except (RemoteError, RequestTimeout):
        return None


async def events_of(dsn: str, ids: list[UUID]) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM events WHERE stream_id = ANY($1)", ids)
        return count
    finally:
        await conn.close()
