"""Parse a message body into a contract model, or raise a typed MessageError saying why not."""

import json
from typing import Any, TypeVar

from pydantic import ValidationError

from cqrs_shared.contracts.base import Contract, ErrorCode
from cqrs_shared.errors import InvalidMessage, MalformedMessage, UnknownMessageType

M = TypeVar("M", bound=Contract)


def parse_body(body: bytes, types: dict[str, type[M]], unknown: ErrorCode) -> M:
    """Decode JSON, pick the model by the body's ``type`` field, validate it.

    >>> parse_body(b'{"type": "GetCustomer", "customer_id": "..."}', QUERY_TYPES, ...)
    """
    try:
        data: Any = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedMessage(f"body is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise MalformedMessage(f"body must be a JSON object, got {type(data).__name__}")
    type_name = data.get("type")
    if not isinstance(type_name, str):
        raise MalformedMessage('body has no string field "type"')
    model = types.get(type_name)
    if model is None:
        known = ", ".join(sorted(types))
        raise UnknownMessageType(f"unknown type {type_name!r}; known: {known}", unknown)
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InvalidMessage(f"invalid {type_name}", field_errors(error)) from None


def field_errors(error: ValidationError) -> dict[str, str]:
    """Pydantic's errors as {"field.path": "message"}; model-level errors under "_"."""
    fields: dict[str, str] = {}
    for item in error.errors(include_url=False):
        path = ".".join(str(part) for part in item["loc"]) or "_"
        message = item["msg"].removeprefix("Value error, ")
        fields[path] = f"{fields[path]}; {message}" if path in fields else message
    return fields
