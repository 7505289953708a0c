"""Parse a message body into a contract model, or raise a typed MessageError saying why not.

COMMANDS = Catalogue[Command](Command, ErrorCode.UNKNOWN_COMMAND)
command = COMMANDS.parse(b'{"type": "CreateCustomer", "name": "Ada", "locale": "en"}')
"""

import json
from collections.abc import Iterable
from typing import Annotated, Any, Generic, TypeVar, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError

from cqrs_client.errors import InvalidMessage, MalformedMessage, UnknownMessageType, UnsupportedSchema
from cqrs_contracts.base import ErrorCode
from cqrs_contracts.events import EventEnvelope, unreadable
from cqrs_contracts.evolution import upcast

M = TypeVar("M")


def members(union: Any) -> tuple[type[BaseModel], ...]:
    """The models of a (possibly Annotated) union of models, or of a single model."""
    if get_origin(union) is Annotated:
        union = get_args(union)[0]  # Annotated[X | Y, Field(discriminator=...)] -> X | Y
    found = get_args(union) or (union,)
    return tuple(model for model in found if isinstance(model, type) and issubclass(model, BaseModel))


class Catalogue(Generic[M]):
    """The messages one queue accepts, told apart by the body's ``type``: one TypeAdapter of their union."""

    def __init__(self, union: Any, unknown: ErrorCode) -> None:
        self._adapter = TypeAdapter[M](union)
        self._unknown = unknown
        self.versions = {str(model.model_fields["type"].default): _version(model) for model in members(union)}
        self.types = frozenset(self.versions)
        self._tagged = len(self.types) > 1

    def parse(self, body: bytes, schema_version: int | str = 1, *, claimed: Iterable[str | None] = ()) -> M:
        """Decode JSON, check the ``type`` is one of ours and its ``schema_version`` one this code
        reads (an older one through its upcasters), validate; else a typed MessageError.

        ``claimed``: what the envelope says the message is (its ``type`` property, a routing key that
        names the type); each one given must be the body's type. The body is what runs, so a
        message routed and typed as one command whose body is another is refused, not run.
        """
        claimed = tuple(claimed)
        quick = self._quick(body, schema_version, claimed)
        if quick is not None:
            return quick
        data = load_json(body)
        if not isinstance(data, dict):
            raise MalformedMessage(f"body must be a JSON object, got {type(data).__name__}")
        type_name = data.get("type")
        if not isinstance(type_name, str):
            raise MalformedMessage('body has no string field "type"')
        if type_name not in self.types:
            known = ", ".join(sorted(self.types))
            raise UnknownMessageType(f"unknown type {type_name!r}; known: {known}", self._unknown)
        for claim in claimed:
            if claim and claim != type_name:
                raise MalformedMessage(
                    f"the body is a {type_name}, but the message's properties say {claim[:64]!r}"
                )
        try:
            data = upcast(data, schema_version, self.versions)
        except ValueError as error:
            raise UnsupportedSchema(str(error)) from None
        try:
            return self._adapter.validate_python(data)
        except ValidationError as error:
            # A union's errors are located under the tag first; the sender's fields are what follows.
            fields = field_errors(error, skip=1 if self._tagged else 0)
            raise InvalidMessage(f"invalid {type_name}", fields) from None

    def _quick(self, body: bytes, schema_version: int | str, claimed: Iterable[str | None]) -> M | None:
        """The message in one step, pydantic reading the bytes, when it is valid, of this code's
        schema version and claimed as what it is; None otherwise, and ``parse`` says why, step by
        step (a valid message costs half as much: docs/performance.md)."""
        try:
            message = self._adapter.validate_json(body)
        except (ValidationError, ValueError, RecursionError):
            return None
        type_name = getattr(message, "type", None)
        if str(self.versions.get(str(type_name))) != str(schema_version):
            return None
        if any(claim and claim != type_name for claim in claimed):
            return None
        return message


def load_json(body: bytes) -> Any:
    """The JSON value of ``body``; MalformedMessage if it is not JSON, or nests too deep to read
    (RecursionError, which had been retried as if transient and ended as internal_error)."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as error:
        # ValueError besides JSONDecodeError: an integer of more than 4,300 digits (int's limit).
        raise MalformedMessage(f"body is not JSON this service reads: {str(error)[:200]}") from None
    except RecursionError:
        raise MalformedMessage("body nests too deep to read") from None


def _version(model: type[BaseModel]) -> int:
    version: int = getattr(model, "SCHEMA_VERSION", 1)
    return version


def field_errors(error: ValidationError, skip: int = 0) -> dict[str, str]:
    """Pydantic's errors as {"field.path": "message"}; model-level errors under "_"."""
    fields: dict[str, str] = {}
    for item in error.errors(include_url=False):
        path = ".".join(str(part) for part in item["loc"][skip:]) or "_"
        message = item["msg"].removeprefix("Value error, ")
        fields[path] = f"{fields[path]}; {message}" if path in fields else message
    return fields


def parse_event(body: bytes) -> EventEnvelope:
    """An event message's envelope, its event in the version this code knows. One this code does not
    know yet (a newer schema version, an event or stream type) is UnsupportedSchema: it waits for a
    newer reader; one that is no event envelope is MalformedMessage. The body's schema_version
    decides (the header repeats it; before versions it said 1)."""
    data = load_json(body)
    newer = unreadable(data)
    if newer is not None:
        raise UnsupportedSchema(newer)
    try:
        return EventEnvelope.model_validate(data)
    except ValidationError as error:
        raise MalformedMessage("not an event this service knows", field_errors(error)) from None
