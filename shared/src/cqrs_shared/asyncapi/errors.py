"""What each error code means, for the AsyncAPI document: every ErrorCode must be described here."""

from collections.abc import Mapping
from typing import Any

from cqrs_contracts.base import ErrorCode

DESCRIPTIONS: Mapping[ErrorCode, str] = {
    ErrorCode.VALIDATION_ERROR: "a known message whose fields break the contract (a customer's 101st "
    "account, a cursor or token this pair never issued, too); `fields` says which, why",
    ErrorCode.NOT_FOUND: "the customer, account or stream it names does not exist (or the view lacks it)",
    ErrorCode.ALREADY_EXISTS: "a create named an id that is taken",
    ErrorCode.CONCURRENCY_CONFLICT: "`expected_version` is not the stream's version: read, decide again; "
    "or the command id already names another command or another sender's (use a new id)",
    ErrorCode.INSUFFICIENT_FUNDS: "a withdrawal would take the balance below zero",
    ErrorCode.UNKNOWN_COMMAND: "the body's `type` names no command (dead-lettered)",
    ErrorCode.UNKNOWN_QUERY: "the body's `type` names no query (dead-lettered)",
    ErrorCode.MALFORMED_MESSAGE: "not JSON (or nested too deep), not an object, a command without a UUID "
    "message_id, a `type` property or routing key that is not the body's type, a timestamp past year "
    "9999, a header over 256 characters (dead-lettered)",
    ErrorCode.MESSAGE_TOO_LARGE: "the body is over CQRS_MAX_MESSAGE_BYTES and was not read (dead-lettered)",
    ErrorCode.UNSUPPORTED_SCHEMA_VERSION: "the schema_version header names a schema this service does not "
    "read (dead-lettered rather than misread)",
    ErrorCode.FORBIDDEN: "the sender's user_id may not send this command (CQRS_ALLOWED_COMMANDS), is no "
    "operator (CQRS_OPERATORS), an operation was sent as a query, or `reply_to` is neither direct "
    "reply-to nor an amq.gen- queue (dead-lettered; nothing is sent to that address)",
    ErrorCode.VIEW_BEHIND: "the view did not reach the asked `min_version` or `token` in time: ask again",
    ErrorCode.REBUILD_RUNNING: "a rebuild of the read model runs already: follow it with GetProjectionStatus",
    ErrorCode.INTERNAL_ERROR: "the service failed (a bug or an outage); retried, then dead-lettered",
}


def error_code_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """pydantic's ErrorCode schema with a description of each code (``x-enum-descriptions`` and a list)."""
    missing = [code.name for code in ErrorCode if code not in DESCRIPTIONS]
    if missing:
        raise LookupError(f"describe ErrorCode.{', '.join(missing)} in asyncapi/errors.py")
    listed = "\n".join(f"- `{code.value}`: {DESCRIPTIONS[code]}" for code in ErrorCode)
    return {
        **schema,
        "description": f"{schema.get('description', '')}\n\n{listed}".strip(),
        "x-enum-descriptions": {code.value: DESCRIPTIONS[code] for code in ErrorCode},
    }
