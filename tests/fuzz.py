"""Hostile messages for the fuzz test: made by hypothesis, sent raw, every reply collected.

hostile_messages(n) -> n (target, body, properties) triples: arbitrary bytes, arbitrary JSON, valid
commands and queries with one field broken, dropped or doubled in size, unknown fields, wrong types,
schema versions and type properties, bodies over the size limit, JSON nested thousands deep, and
queries with cursors and consistency tokens the service never issued.
"""

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from cqrs_client.messaging.topology import COMMANDS_EXCHANGE, QUERY_QUEUE
from cqrs_contracts import (
    ChangeCustomerLocale,
    CreateCustomer,
    Deposit,
    EditCustomerDetails,
    GetAccount,
    GetAccountTransactions,
    GetCustomer,
    GetCustomersWithName,
    GetPreferredCustomers,
    MakeCustomerPreferred,
    OpenAccount,
    Withdraw,
)
from tests.e2e.raw import raw_channel

OVER_THE_LIMIT = 65_536 + 1

VALID: list[tuple[str, dict[str, Any]]] = [
    ("command", CreateCustomer(name="Ada", locale="en").model_dump(mode="json")),
    ("command", MakeCustomerPreferred(customer_id=uuid4()).model_dump(mode="json")),
    ("command", ChangeCustomerLocale(customer_id=uuid4(), locale="fr").model_dump(mode="json")),
    ("command", EditCustomerDetails(customer_id=uuid4(), name="B").model_dump(mode="json")),
    ("command", OpenAccount(customer_id=uuid4(), currency="EUR").model_dump(mode="json")),
    ("command", Deposit(account_id=uuid4(), amount="1.00").model_dump(mode="json")),
    ("command", Withdraw(account_id=uuid4(), amount="1.00").model_dump(mode="json")),
    ("query", GetCustomer(customer_id=uuid4()).model_dump(mode="json")),
    ("query", GetCustomersWithName(name="Ada").model_dump(mode="json")),
    ("query", GetPreferredCustomers().model_dump(mode="json")),
    ("query", GetAccount(account_id=uuid4()).model_dump(mode="json")),
    ("query", GetAccountTransactions(account_id=uuid4()).model_dump(mode="json")),
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=50)
    | st.sampled_from(["", "0", "-1", "1e999", "NaN", "9" * 40, "\u0000", "💸", "en_US", "XXX"]),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)


@dataclass(frozen=True)
class Hostile:
    target: str  # "command" or "query"
    body: bytes
    type_property: str | None
    schema_version: int | str | None


@st.composite
def _broken(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid message of a random kind with one thing broken."""
    target, message = draw(st.sampled_from(VALID))
    message = dict(message)
    field = draw(st.sampled_from(sorted(message)))
    how = draw(st.sampled_from(["value", "drop", "unknown", "huge", "type"]))
    if how == "value":
        message[field] = draw(json_values)
    elif how == "drop":
        message.pop(field)
    elif how == "unknown":
        message[draw(st.text(min_size=1, max_size=20))] = draw(json_values)
    elif how == "huge":
        message[field] = "x" * draw(st.integers(min_value=1_000, max_value=60_000))
    else:
        message["type"] = draw(json_values)
    return target, json.dumps(message).encode()


def _cursor(number: int) -> str:
    return base64.urlsafe_b64encode(str(number).encode()).decode().rstrip("=")


@st.composite
def _forged(draw: st.DrawFn) -> bytes:
    """A query with a cursor or a consistency token the service never issued (issue 20: one such
    cursor held a query slot for 81 s; 32 unknown token positions, one for CQRS_MAX_WAIT)."""
    number = draw(st.integers(min_value=-(10**15), max_value=10**15))
    account, customer = uuid4(), uuid4()
    positions = draw(st.lists(st.integers(min_value=1, max_value=2**31 - 1), min_size=1, max_size=32))
    token = ",".join(f"account:{uuid4()}@{version}" for version in positions)
    return draw(
        st.sampled_from(
            [
                json.dumps(
                    {"type": "GetAccountTransactions", "account_id": str(account), "after": _cursor(number)}
                ),
                json.dumps({"type": "GetPreferredCustomers", "after": _cursor(number)}),
                json.dumps({"type": "GetCustomer", "customer_id": str(customer), "token": token}),
                json.dumps({"type": "GetAccount", "account_id": str(account), "token": token}),
            ]
        )
    ).encode()


@st.composite
def hostile(draw: st.DrawFn) -> Hostile:
    target = draw(st.sampled_from(["command", "query"]))
    kind = draw(
        st.sampled_from(["bytes", "json", "broken", "broken", "broken", "oversize", "forged", "deep"])
    )
    if kind == "forged":
        target, body = "query", draw(_forged())
    elif kind == "deep":
        depth = draw(st.integers(min_value=500, max_value=30_000))
        body = b'{"type": "CreateCustomer", "name": ' + b"[" * depth + b"]" * depth + b"}"
    elif kind == "bytes":
        body = draw(st.binary(max_size=300))
    elif kind == "json":
        body = json.dumps(draw(json_values)).encode()
    elif kind == "oversize":
        body = b'{"type": "CreateCustomer", "name": "' + b"y" * OVER_THE_LIMIT + b'", "locale": "en"}'
    else:
        target, body = draw(_broken())
    # Mostly well-formed properties, so that most bodies reach the parser; sometimes hostile ones.
    hostile_properties = draw(st.integers(min_value=0, max_value=9)) >= 8
    valid_types = [message["type"] for _, message in VALID]
    type_property = draw(st.text(max_size=30) | st.sampled_from(valid_types)) if hostile_properties else None
    schema: int | str | None = draw(st.sampled_from([None, 1, "1"]))
    if hostile_properties:
        # (no negative numbers: pamqp cannot encode a negative header value above -129)
        schema = draw(st.integers(min_value=0, max_value=300) | st.text(max_size=5))
    return Hostile(target, body, type_property, schema)


def hostile_messages(count: int) -> list[Hostile]:
    """``count`` hostile messages (hypothesis may make a few fewer when it runs out of new ones)."""
    made: list[Hostile] = []

    @settings(
        max_examples=count,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(hostile())
    def collect(message: Hostile) -> None:
        made.append(message)

    collect()
    return made


class Sender:
    """Sends raw messages with reply_to and keeps every reply by correlation id."""

    def __init__(self, channel: aio_pika.abc.AbstractChannel, replies: aio_pika.abc.AbstractQueue) -> None:
        self._channel = channel
        self._replies_queue = replies
        self.replies: dict[str, bytes] = {}

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        self.replies[message.correlation_id or ""] = message.body

    async def send(self, item: Hostile) -> str:
        correlation_id = str(uuid4())
        headers: dict[str, Any] = {}
        if item.schema_version is not None:
            headers["schema_version"] = item.schema_version
        message = aio_pika.Message(
            item.body,
            message_id=str(uuid4()),
            type=item.type_property,
            correlation_id=correlation_id,
            reply_to=self._replies_queue.name,
            headers=headers,
        )
        if item.target == "command":
            exchange = await self._channel.get_exchange(COMMANDS_EXCHANGE)
            await exchange.publish(message, routing_key=item.type_property or "fuzz")
        else:
            await self._channel.default_exchange.publish(message, routing_key=QUERY_QUEUE)
        return correlation_id

    async def wait_for(self, ids: list[str], timeout: float) -> list[str]:
        """The ids still without a reply after at most ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            missing = [i for i in ids if i not in self.replies]
            if not missing:
                return []
            await asyncio.sleep(0.1)
        return [i for i in ids if i not in self.replies]


@asynccontextmanager
async def sender(url: str) -> AsyncIterator[Sender]:
    async with raw_channel(url) as raw:
        found = Sender(raw.channel, raw.replies)
        await raw.replies.consume(found._on_reply, no_ack=True)
        yield found
