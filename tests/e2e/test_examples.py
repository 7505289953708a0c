"""The example subscribers (examples/) as subscriber users of the pair: they see each event the pair
publishes, each once in effect, also when it is delivered again; the Python one reads an old schema,
notes a gap, and dead-letters what it cannot read; started from position 0 it catches up with what
was committed before it existed (ReadAll), then follows live, and remembers its position; a user
the command side does not list as an event reader is refused the history."""

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

from cqrs_client.client import CqrsClient
from cqrs_client.messaging import topology
from cqrs_contracts import (
    AccountOpened,
    CreateCustomer,
    Deposit,
    EventEnvelope,
    MoneyDeposited,
    OpenAccount,
    routing_key,
)
from tests.access import RoleUser, role_users
from tests.builders import accepted
from tests.own import own_resources, running
from tests.pair import ROOT, Pair
from tests.programs import Line, Program, program
from tests.resources import Servers
from tests.waiting import until

pytestmark = pytest.mark.timeout(180)
PYTHON_SUBSCRIBER = ROOT / "examples" / "python_subscriber" / "subscriber.py"
NODE_SUBSCRIBER = ROOT / "examples" / "node_subscriber"


# Subscriber users: one per example, one that starts late (its queue made after the events it must
# see), one the command side does not list as an event reader (CQRS_EVENT_READERS).
SUBSCRIBERS = {"python": "subscriber", "node": "subscriber", "late": "subscriber", "stranger": "subscriber"}
READERS = ("python", "late")


@pytest.fixture(scope="module")
async def paired(
    servers: Servers, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Pair, dict[str, RoleUser]]]:
    """A pair of this module's own (its vhost and databases go with it), and the subscriber users,
    granted as `cqrs broker grant` says; the command side answers the history to READERS only."""
    async with own_resources(servers) as own:
        with role_users(servers.rabbitmq, own.amqp_url, SUBSCRIBERS) as users:
            readers = json.dumps([users[label].name for label in READERS])
            logs = tmp_path_factory.mktemp("examples")
            async with running({**own.env, "CQRS_EVENT_READERS": readers}, logs, clean_exit=True) as both:
                yield Pair(own.env, both.command, both.query, own.dsn, logs), users


@pytest.fixture(scope="module")
def pair(paired: tuple[Pair, dict[str, RoleUser]]) -> Pair:
    return paired[0]


@pytest.fixture(scope="module")
def subscribers(paired: tuple[Pair, dict[str, RoleUser]]) -> dict[str, RoleUser]:
    return paired[1]


@pytest.fixture
async def admin(pair: Pair) -> AsyncIterator[AbstractChannel]:
    """A channel as the vhost's administrator (the pair's own user in the tests)."""
    connection = await aio_pika.connect(pair.env["CQRS_RABBITMQ_URL"])
    async with connection:
        yield await connection.channel()


@dataclass
class Tap:
    """A queue of the test's own on some events, to copy one exactly as the relay published it."""

    queue: AbstractQueue
    taken: list[AbstractIncomingMessage] = field(default_factory=list)

    async def copy_of(self, stream_id: UUID, version: int) -> AbstractIncomingMessage:
        def of(message: AbstractIncomingMessage) -> bool:
            envelope = EventEnvelope.model_validate_json(message.body)
            return (envelope.stream_id, envelope.version) == (stream_id, version)

        async def found() -> AbstractIncomingMessage | None:
            message = await self.queue.get(fail=False, no_ack=True)
            if message is not None:
                self.taken.append(message)
            return next((message for message in self.taken if of(message)), None)

        return await until(found, what=f"the event {stream_id}@{version}")


async def tapped(channel: AbstractChannel, key: str) -> Tap:
    queue = await channel.declare_queue(exclusive=True)  # gone with the channel's connection
    await queue.bind(topology.EVENTS_EXCHANGE, routing_key=key)
    return Tap(queue)


async def deliver_again(channel: AbstractChannel, message: AbstractIncomingMessage, queue: str) -> None:
    """``message`` once more into ``queue``, properties and headers as they were: a redelivery."""
    copy = aio_pika.Message(
        message.body,
        message_id=message.message_id,
        type=message.type,
        content_type=message.content_type,
        correlation_id=message.correlation_id,
        timestamp=message.timestamp,
        headers=dict(message.headers),
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )
    await channel.default_exchange.publish(copy, routing_key=queue)


async def deliver(channel: AbstractChannel, body: bytes, queue: str) -> str:
    message_id = str(uuid4())
    await channel.default_exchange.publish(aio_pika.Message(body, message_id=message_id), routing_key=queue)
    return message_id


def subscriber_env(user: RoleUser) -> dict[str, str]:
    return {**os.environ, "CQRS_SUBSCRIBER_URL": user.url}


def python_subscriber(pair: Pair, user: RoleUser, database: Path) -> AbstractAsyncContextManager[Program]:
    args = [sys.executable, str(PYTHON_SUBSCRIBER), "--database", str(database)]
    return program(args, subscriber_env(user), database.with_suffix(".stderr"))


def about(key: str, value: str) -> Callable[[Line], bool]:
    return lambda line: line.get(key) == value


def of_streams(program: Program, *streams: UUID) -> list[Line]:
    ids = {str(stream) for stream in streams}
    return [line for line in program.lines if line.get("stream_id") in ids]


async def test_the_python_subscriber_applies_each_event_once_also_when_it_is_delivered_again(
    pair: Pair, subscribers: dict[str, RoleUser], admin: AbstractChannel, tmp_path: Path
) -> None:
    user, database = subscribers["python"], tmp_path / "ledger.sqlite3"
    tap = await tapped(admin, routing_key("MoneyDeposited"))
    async with python_subscriber(pair, user, database) as run:
        await run.line(lambda line: line.get("ready") == user.queue, what="ready")
        async with CqrsClient.connect(pair.env["CQRS_RABBITMQ_URL"], timeout=10) as client:
            customer = accepted(await client.send(CreateCustomer(name="Subscribed", locale="en")))
            account = accepted(await client.send(OpenAccount(customer_id=customer.id, currency="EUR")))
            for amount in ("12.50", "7.50"):
                accepted(await client.send(Deposit(account_id=account.id, amount=Decimal(amount))))
        last = await run.line(lambda line: line.get("stream_id") == str(account.id) and line["version"] == 3)
        await deliver_again(admin, await tap.copy_of(account.id, 3), user.queue)
        again = await run.line(lambda line: line.get("outcome") == "duplicate", what="the duplicate")
        assert await run.stop() == 0, run.output()
    seen = of_streams(run, customer.id, account.id)
    # Stopped, and started again on its database: what it applied before is still known.
    async with python_subscriber(pair, user, database) as rerun:
        await rerun.line(lambda line: line.get("ready") == user.queue, what="ready")
        await deliver_again(admin, await tap.copy_of(account.id, 2), user.queue)
        later = await rerun.line(lambda line: line.get("outcome") == "duplicate", what="the duplicate")
    applied = sorted((line["type"], line["version"]) for line in seen if line["outcome"] == "applied")
    assert applied == [
        ("AccountOpened", 1),
        ("CustomerCreated", 1),
        ("MoneyDeposited", 2),
        ("MoneyDeposited", 3),
    ]
    assert len({line["event_id"] for line in seen}) == 4, seen
    assert [line["outcome"] for line in seen].count("duplicate") == 1, seen
    assert (last["customer_id"], last["totals"]) == (str(customer.id), {"EUR": "20.00"})
    assert (again["event_id"], again["version"], again["totals"]) == (last["event_id"], 3, {"EUR": "20.00"})
    assert (later["stream_id"], later["version"], later["totals"]) == (str(account.id), 2, {"EUR": "20.00"})


def an_account_deposit(version: int, balance: str) -> EventEnvelope:
    """MoneyDeposited at ``version`` of a new account stream (its account opened with ``balance``)."""
    account = uuid4()
    amount = Decimal(balance)
    event = MoneyDeposited(
        account_id=account, customer_id=uuid4(), currency="EUR", amount=amount, balance=amount, reference=""
    )
    return EventEnvelope(
        event_id=uuid4(),
        stream_type="account",
        stream_id=account,
        version=version,
        occurred_at=datetime.now(UTC),
        event=event,
    )


def as_schema(envelope: EventEnvelope, version: int) -> bytes:
    """The envelope as a writer of MoneyDeposited's schema ``version`` wrote it: version 1 had no
    reference and no schema_version; a later one carries it."""
    body: dict[str, Any] = json.loads(envelope.model_dump_json())
    if version == 1:
        del body["event"]["reference"], body["schema_version"]
    else:
        body["schema_version"] = version
    return json.dumps(body).encode()


async def test_the_python_subscriber_reads_an_old_schema_notes_a_gap_and_dead_letters_what_it_cannot_read(
    pair: Pair, subscribers: dict[str, RoleUser], admin: AbstractChannel, tmp_path: Path
) -> None:
    user = subscribers["python"]
    deposited = an_account_deposit(version=2, balance="5.00")
    event = deposited.event
    assert isinstance(event, MoneyDeposited)
    opened = EventEnvelope(
        event_id=uuid4(),
        stream_type="account",
        stream_id=deposited.stream_id,
        version=1,
        occurred_at=datetime.now(UTC),
        event=AccountOpened(account_id=event.account_id, customer_id=event.customer_id, currency="EUR"),
    )
    async with python_subscriber(pair, user, tmp_path / "ledger.sqlite3") as run:
        await run.line(lambda line: line.get("ready") == user.queue, what="ready")
        await deliver(admin, as_schema(deposited, 1), user.queue)  # version 2 before 1: a gap
        gap = await run.line(lambda line: line.get("event_id") == str(deposited.event_id))
        await deliver(admin, opened.model_dump_json().encode(), user.queue)  # late
        late = await run.line(lambda line: line.get("event_id") == str(opened.event_id))
        sent = [await deliver(admin, body, user.queue) for body in (as_schema(deposited, 3), b"not json")]
        refused = [await run.line(about("message_id", message_id)) for message_id in sent]
    assert (gap["outcome"], gap["missing"], gap["totals"]) == ("gap", [1, 1], {"EUR": "5.00"})
    assert (late["outcome"], late["version"]) == ("stale", 1)
    assert [line["reason"] for line in refused] == [
        "MoneyDeposited schema_version 3 is newer than this reader's 2",
        "the body is not JSON",
    ]
    dlq = await admin.declare_queue(topology.subscriber_queue(user.name, "dlq"), passive=True)
    dead: list[str] = []

    async def both() -> bool:
        message = await dlq.get(fail=False, no_ack=True)
        if message is not None:
            dead.append(message.message_id or "")
        return sorted(dead) == sorted(sent)

    await until(both, what="both in the subscriber's dead-letter queue")


def from_history(program: Program, *streams: UUID) -> list[tuple[str, int, str]]:
    lines = of_streams(program, *streams)
    return [(line["type"], line["version"], line["outcome"]) for line in lines if line["from"] == "history"]


async def test_the_python_subscriber_started_from_position_0_sees_what_was_committed_before_it_existed(
    pair: Pair, subscribers: dict[str, RoleUser], tmp_path: Path
) -> None:
    """Its user's queue does not exist yet: what was committed before reaches it only by ReadAll."""
    user, database = subscribers["late"], tmp_path / "late.sqlite3"
    async with CqrsClient.connect(pair.env["CQRS_RABBITMQ_URL"], timeout=10) as client:
        customer = accepted(await client.send(CreateCustomer(name="Before", locale="en")))
        account = accepted(await client.send(OpenAccount(customer_id=customer.id, currency="EUR")))
        accepted(await client.send(Deposit(account_id=account.id, amount=Decimal("5.00"))))
        async with python_subscriber(pair, user, database) as run:
            caught = await run.line(lambda line: "caught_up" in line, what="caught up")
            await run.line(lambda line: line.get("ready") == user.queue, what="ready")
            accepted(await client.send(Deposit(account_id=account.id, amount=Decimal("2.50"))))
            third = (str(account.id), 3)
            live = await run.line(lambda line: (line.get("stream_id"), line.get("version")) == third)
            assert await run.stop() == 0, run.output()
        # Started again on its database: it reads the history after its position, and nothing before.
        async with python_subscriber(pair, user, database) as rerun:
            again = await rerun.line(lambda line: "caught_up" in line, what="caught up again")
    assert run.lines[0] == {"catching_up": 0}
    assert from_history(run, customer.id, account.id) == [
        ("CustomerCreated", 1, "applied"),
        ("AccountOpened", 1, "applied"),
        ("MoneyDeposited", 2, "applied"),
    ]
    read = [line for line in run.lines if line.get("from") == "history" and "position" in line]
    positions = [line["position"] for line in read]
    assert positions == list(range(1, len(positions) + 1))  # from 1, gap-free, in commit order
    assert caught == {"caught_up": positions[-1], "head": positions[-1]}
    assert (live["outcome"], live["from"], live["totals"]) == ("applied", "live", {"EUR": "7.50"})
    assert live["position"] > caught["caught_up"]
    assert rerun.lines[0] == {"catching_up": live["position"]}
    assert again["caught_up"] == again["head"] >= live["position"]
    assert from_history(rerun, customer.id, account.id) == []


async def test_the_python_subscriber_of_a_user_who_is_no_event_reader_is_refused_the_history(
    pair: Pair, subscribers: dict[str, RoleUser], tmp_path: Path
) -> None:
    user = subscribers["stranger"]
    async with python_subscriber(pair, user, tmp_path / "stranger.sqlite3") as run:
        refused = await run.line(about("outcome", "not caught up"), what="the refusal")
        async with asyncio.timeout(15):
            assert await run.process.wait() == 1, run.output()  # it stops by itself
    assert refused["code"] == "forbidden"
    assert refused["reason"] == (
        f"forbidden: user {user.name!r} may not read the event store (CQRS_EVENT_READERS)"
    )
    assert not any("ready" in line for line in run.lines)


@pytest.fixture(scope="module")
def node_subscriber() -> Path:
    """The Node example with its pinned dependencies (npm ci, once)."""
    if not (NODE_SUBSCRIBER / "node_modules" / "amqplib").is_dir():
        npm = shutil.which("npm")
        assert npm is not None, "the Node example needs npm (and node)"
        subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--silent"],
            cwd=NODE_SUBSCRIBER,
            check=True,
            timeout=150,  # within the test's own (pytestmark)
        )
    return NODE_SUBSCRIBER / "index.js"


async def test_the_node_subscriber_prints_each_event_once_also_when_it_is_delivered_again(
    pair: Pair,
    subscribers: dict[str, RoleUser],
    admin: AbstractChannel,
    node_subscriber: Path,
    tmp_path: Path,
) -> None:
    user, node = subscribers["node"], shutil.which("node")
    assert node is not None
    tap = await tapped(admin, routing_key("CustomerCreated"))
    async with program([node, str(node_subscriber)], subscriber_env(user), tmp_path / "node.stderr") as run:
        await run.line(lambda line: line.get("ready") == user.queue, what="ready")
        async with CqrsClient.connect(pair.env["CQRS_RABBITMQ_URL"], timeout=10) as client:
            customer = accepted(await client.send(CreateCustomer(name="Noded", locale="en")))
        created = await run.line(lambda line: line.get("stream_id") == str(customer.id), what="the event")
        await deliver_again(admin, await tap.copy_of(customer.id, 1), user.queue)
        again = await run.line(lambda line: line.get("outcome") == "duplicate", what="the duplicate")
        assert await run.stop() == 0, run.output()
    assert created == {
        "outcome": "applied",
        "event_id": created["event_id"],
        "type": "CustomerCreated",
        "stream_id": str(customer.id),
        "version": 1,
    }
    assert (again["event_id"], again["stream_id"]) == (created["event_id"], str(customer.id))
    assert [line["outcome"] for line in of_streams(run, customer.id)] == ["applied", "duplicate"]
