"""The fake client users test with keeps the real client's contract (tests/client_contract.py)."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from opentelemetry.sdk.trace import TracerProvider
from pydantic import ValidationError

from cqrs_client.fake import FakeClient, NotProgrammed
from cqrs_client.tracing import ambient_traceparent
from cqrs_contracts import CreateCustomer, CustomerView, GetAccount
from tests.client_contract import ClientContract, program_like_the_pair


class TestFakeClient(ClientContract):
    @pytest.fixture
    async def client(self) -> AsyncIterator[FakeClient]:
        fake = FakeClient()
        program_like_the_pair(fake)
        yield fake
        await fake.aclose()


async def test_a_message_the_fake_was_told_nothing_about_says_so() -> None:
    with pytest.raises(NotProgrammed, match=r"FakeClient\.answer\(GetAccount"):
        await FakeClient().ask(GetAccount(account_id=uuid4()))


async def test_an_answer_of_another_type_than_the_query_names_fails_as_on_the_wire() -> None:
    fake = FakeClient()
    now = datetime.now(UTC)
    customer = CustomerView(
        id=uuid4(), name="Ada", locale="en", is_preferred=False, version=1, created_at=now, updated_at=now
    )
    fake.answer(GetAccount, lambda _: customer)  # type: ignore[arg-type,return-value]
    with pytest.raises(ValidationError):
        await fake.ask(GetAccount(account_id=uuid4()))


async def test_what_was_sent_is_recorded_once_per_command_id() -> None:
    fake = FakeClient()
    program_like_the_pair(fake)
    command, command_id = CreateCustomer(name="Ada", locale="en"), uuid4()
    await fake.send(command, command_id=command_id)
    await fake.send(command, command_id=command_id)
    assert fake.sent == [command]


def test_the_callers_span_is_the_parent_of_what_the_client_sends() -> None:
    tracer = TracerProvider().get_tracer("caller")
    with tracer.start_as_current_span("handling a request") as span:
        caller = span.get_span_context()
        expected = f"00-{caller.trace_id:032x}-{caller.span_id:016x}-{int(caller.trace_flags):02x}"
        assert ambient_traceparent() == expected
    first, second = ambient_traceparent(), ambient_traceparent()  # no span: a new trace each time
    assert first.split("-")[1] != second.split("-")[1]
