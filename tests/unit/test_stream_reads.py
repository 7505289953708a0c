"""Who the command side's stream reads are answered for (entrypoint.on_read_stream): through the
outside readers' door, cqrs.streams, only the users in CQRS_EVENT_READERS; the default exchange
(which only the pair's roles and operators may write to) as before."""

from uuid import uuid4

import pytest

from command_service.entrypoint import on_read_stream
from command_service.memory import InMemoryEventStore
from cqrs_client.messaging.envelope import Delivery
from cqrs_client.messaging.topology import STREAMS_EXCHANGE
from cqrs_contracts import ErrorCode, ListStreams, ReadAll, ReadStream
from cqrs_contracts.replies import QueryFailed, QueryOk
from cqrs_shared.messaging.consumer import Outcome

READERS = frozenset({"ledger"})


def asked(body: bytes, type_: str, *, exchange: str, sender: str | None) -> Delivery:
    return Delivery(
        body=body,
        message_id=str(uuid4()),
        type=type_,
        correlation_id="c",
        reply_to="amq.rabbitmq.reply-to",
        traceparent=None,
        causation_id=None,
        routing_key="command-service.streams",
        user_id=sender,
        exchange=exchange,
        sender=sender,
    )


async def answer(
    request: ReadAll | ReadStream | ListStreams, *, exchange: str, sender: str | None
) -> Outcome:
    delivery = asked(request.model_dump_json().encode(), request.type, exchange=exchange, sender=sender)
    return await on_read_stream(delivery, InMemoryEventStore(), READERS)


@pytest.mark.parametrize(
    "request_",
    [ReadAll(after_position=0, limit=10), ReadStream(stream_id=uuid4()), ListStreams()],
    ids=lambda request: request.type,
)
@pytest.mark.parametrize("sender", ["eve", None, "cqrs-query"])
async def test_an_unlisted_reader_through_the_door_is_refused_forbidden_and_dead_lettered(
    request_: ReadAll | ReadStream | ListStreams, sender: str | None
) -> None:
    outcome = await answer(request_, exchange=STREAMS_EXCHANGE, sender=sender)
    assert isinstance(outcome.reply, QueryFailed)
    assert outcome.reply.error.code == ErrorCode.FORBIDDEN
    assert outcome.reply.error.message.endswith("may not read the event store (CQRS_EVENT_READERS)")
    assert outcome.dead_letter == outcome.reply.error


async def test_a_refusal_comes_before_the_body_is_read() -> None:
    delivery = asked(b"\xff not json", "ReadAll", exchange=STREAMS_EXCHANGE, sender="eve")
    outcome = await on_read_stream(delivery, InMemoryEventStore(), READERS)
    assert isinstance(outcome.reply, QueryFailed)
    assert outcome.reply.error.code == ErrorCode.FORBIDDEN


async def test_a_listed_reader_through_the_door_reads_all() -> None:
    outcome = await answer(ReadAll(after_position=0, limit=10), exchange=STREAMS_EXCHANGE, sender="ledger")
    assert isinstance(outcome.reply, QueryOk)
    assert outcome.dead_letter is None


async def test_the_default_exchange_is_answered_as_before() -> None:
    outcome = await answer(ReadAll(after_position=0, limit=10), exchange="", sender="cqrs-query")
    assert isinstance(outcome.reply, QueryOk)
