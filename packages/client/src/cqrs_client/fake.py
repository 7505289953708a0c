"""A fake of ``CqrsClient`` for your own tests: no broker, the same contract.

fake = FakeClient()
fake.on(CreateCustomer, lambda command: fake.accepted(CUSTOMER, command.customer_id))
fake.answer(GetCustomer, lambda query: CustomerView(...))       # or raise RemoteError(...)
reply = await fake.send(CreateCustomer(name="Ada", locale="en"))  # what your code under test does
assert fake.sent == [CreateCustomer(...)]

What it shares with the real client (tests/client_contract.py runs the same checks on both):
``send`` takes commands and ``ask`` queries, each goes through its JSON form as on the wire; a
command id sent again gets the first reply again (the command service's idempotency), whatever
the handler would answer now; ``ask`` returns the query's own result type and raises RemoteError
for an error reply; ``timeout``, ``attempts``, ``traceparent`` and ``queue`` are accepted alike.
A message with no handler raises ``NotProgrammed``: say what the pair would answer.
"""

from collections.abc import Callable
from typing import Any, TypeVar, cast
from uuid import UUID, uuid4

from pydantic import TypeAdapter

from cqrs_client.errors import RemoteError
from cqrs_client.transfers import TransferCalls
from cqrs_contracts import Command, CommandAccepted, CommandReply, Contract, StreamType
from cqrs_contracts.base import Answered, result_of
from cqrs_contracts.consistency import StreamPosition, format_token
from cqrs_contracts.replies import QueryFailed, QueryOk

R = TypeVar("R", bound=Contract)
C = TypeVar("C", bound=Contract)
_COMMAND: TypeAdapter[Command] = TypeAdapter(Command)
_REPLY: TypeAdapter[CommandReply] = TypeAdapter(CommandReply)


class NotProgrammed(AssertionError):
    """The fake was sent a message it was told nothing about."""


class FakeClient(TransferCalls):
    def __init__(self) -> None:
        self._commands: dict[type[Contract], Callable[[Any], CommandReply]] = {}
        self._queries: dict[type[Contract], Callable[[Any], Contract | QueryFailed]] = {}
        self._replies: dict[UUID, CommandReply] = {}
        self._versions: dict[UUID, int] = {}
        self.sent: list[Command] = []
        self.asked: list[Contract] = []

    def on(self, command: type[C], reply: Callable[[C], CommandReply]) -> None:
        """Answer ``command``'s class with what ``reply`` returns for it."""
        self._commands[command] = reply

    def answer(self, query: type[Answered[R]], result: Callable[[Any], R | QueryFailed]) -> None:
        """Answer ``query``'s class with its result, or a QueryFailed (ask raises RemoteError)."""
        self._queries[cast(type[Contract], query)] = result

    def accepted(self, stream_type: StreamType, stream_id: UUID) -> CommandAccepted:
        """An accepted reply for ``stream_id``, its version one more than the last the fake gave it."""
        version = self._versions.get(stream_id, 0) + 1
        self._versions[stream_id] = version
        token = format_token((StreamPosition(stream_type=stream_type, stream_id=stream_id, version=version),))
        return CommandAccepted(
            command_id=uuid4(), stream_type=stream_type, id=stream_id, version=version, token=token
        )

    async def send(
        self,
        command: Command,
        *,
        command_id: UUID | None = None,
        traceparent: str | None = None,
        timeout: float | None = None,
        attempts: int = 1,
    ) -> CommandReply:
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {attempts}")
        wired = _COMMAND.validate_json(command.model_dump_json())  # what the command service would parse
        key = command_id or uuid4()
        if key in self._replies:
            return self._replies[key]
        handler = self._commands.get(type(wired))
        if handler is None:
            raise NotProgrammed(
                f"no reply for {type(wired).__name__}: FakeClient.on({type(wired).__name__}, ...)"
            )
        reply = _REPLY.validate_json(handler(wired).model_copy(update={"command_id": key}).model_dump_json())
        self.sent.append(wired)
        self._replies[key] = reply
        return reply

    async def ask(
        self,
        query: Answered[R],
        *,
        traceparent: str | None = None,
        timeout: float | None = None,
        queue: str = "",
    ) -> R:
        answer: type[R] | None = result_of(type(query))
        if answer is None or not isinstance(query, Contract):
            raise TypeError(f"{type(query).__name__} is no query of the pair: it names no answer")
        wired = type(query).model_validate_json(query.model_dump_json())
        handler = self._queries.get(type(wired))
        if handler is None:
            raise NotProgrammed(
                f"no answer for {type(wired).__name__}: FakeClient.answer({type(wired).__name__}, ...)"
            )
        self.asked.append(wired)
        given = handler(wired)
        body = (
            given.model_dump_json()
            if isinstance(given, QueryFailed)
            else QueryOk[Any](result=given).model_dump_json()
        )
        reply = TypeAdapter(QueryOk[answer] | QueryFailed).validate_json(body)  # type: ignore[valid-type,arg-type]
        if isinstance(reply, QueryFailed):
            raise RemoteError(reply.error)
        return cast(R, reply.result)

    async def aclose(self) -> None:
        """Nothing to close: there for code that closes its client."""
