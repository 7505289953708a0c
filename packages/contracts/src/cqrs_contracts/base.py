"""The base of every contract model, and the error shape all replies share."""

from enum import StrEnum
from typing import Any, ClassVar, Generic, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field

R = TypeVar("R", bound=BaseModel)


class Contract(BaseModel):
    """A message on the wire: immutable, and strict about fields it does not know."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    SCHEMA_VERSION: ClassVar[int] = 1
    """The version of this message's schema, sent in its ``schema_version`` header. Raise it on a
    change that would break a deployed sender or reader (docs/evolution.md)."""


class Tolerant(Contract):
    """A message others read (an event, a reply, a view): its readers ignore fields they do not know,
    so a writer may add an optional field without breaking a deployed reader. What a service is
    asked to do (a command, a query) stays strict: an unknown field there is a sender's mistake."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Answered(Generic[R]):
    """A query answered with an ``R``: ``class GetCustomer(Contract, Answered[CustomerView])``. The
    pairing is spelled here once; ``client.ask(query)`` is typed by it and reads it (result_of)."""


def result_of(query: type[Answered[R]] | type[Any]) -> type[R] | None:
    """What a query class is answered with; None for a class that is no query."""
    for base in getattr(query, "__orig_bases__", ()):
        if getattr(base, "__origin__", None) is Answered:
            result: type[R] = get_args(base)[0]
            return result
    return None


def message_type(model: BaseModel) -> str:
    """The ``type`` discriminator of a command, event or query model."""
    return str(type(model).model_fields["type"].default)


# Bounds of every contract: a version fits the event store's integer column; a list of positions or
# a cursor is small (a body's size is bounded before it is parsed: CQRS_MAX_MESSAGE_BYTES).
MAX_VERSION = 2**31 - 1
MAX_TOKEN_POSITIONS = 32
MAX_CURSOR_LENGTH = 200


class ErrorCode(StrEnum):
    """Stable error codes; clients branch on these, never on message text."""

    VALIDATION_ERROR = "validation_error"
    NOT_FOUND = "not_found"
    ALREADY_EXISTS = "already_exists"
    CONCURRENCY_CONFLICT = "concurrency_conflict"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    UNKNOWN_COMMAND = "unknown_command"
    UNKNOWN_QUERY = "unknown_query"
    MALFORMED_MESSAGE = "malformed_message"
    MESSAGE_TOO_LARGE = "message_too_large"
    UNSUPPORTED_SCHEMA_VERSION = "unsupported_schema_version"
    FORBIDDEN = "forbidden"
    VIEW_BEHIND = "view_behind"
    REBUILD_RUNNING = "rebuild_running"
    INTERNAL_ERROR = "internal_error"


class ErrorInfo(Tolerant):
    """What went wrong: a stable code, a sentence for people, and per-field messages."""

    code: ErrorCode
    message: str
    fields: dict[str, str] = Field(default_factory=dict)
