"""The error tree shared by the services and the client.

CqrsError
├── MessageError            a message that cannot be handled as sent (has an ErrorInfo)
│   ├── MalformedMessage    not JSON, not an object, or metadata missing
│   ├── UnknownMessageType  a well-formed message of a type nobody handles
│   ├── InvalidMessage      a known type whose fields break the contract
│   ├── UnsupportedSchema   a schema_version header this version cannot read
│   └── ReplyTooLarge       an answer larger than a reply may be (the broker's body limit)
├── ClientError             what a client of the pair sees
│   ├── BrokerUnavailable   RabbitMQ cannot be reached or the route does not exist
│   ├── RequestTimeout      no reply within the timeout
│   ├── ReplayRefused       the broker refuses to let this user send a dead letter back as it was sent
│   └── RemoteError         the service replied with an error (has an ErrorInfo)
│       └── CommandRejectedError   a command's rejection, raised (client.raise_for_rejection)
└── StartupError            a service cannot start as configured; it exits 1 saying why
    └── TopologyMismatch    a queue exists with other arguments than this version declares
"""

from uuid import UUID

from cqrs_contracts.base import ErrorCode, ErrorInfo


class CqrsError(Exception):
    """Base of every error this project raises on purpose."""


class MessageError(CqrsError):
    code: ErrorCode = ErrorCode.MALFORMED_MESSAGE

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.info = ErrorInfo(code=self.code, message=message, fields=fields or {})


class MalformedMessage(MessageError):
    code = ErrorCode.MALFORMED_MESSAGE


class UnknownMessageType(MessageError):
    def __init__(self, message: str, code: ErrorCode) -> None:
        self.code = code
        super().__init__(message)


class InvalidMessage(MessageError):
    code = ErrorCode.VALIDATION_ERROR


class UnsupportedSchema(MessageError):
    code = ErrorCode.UNSUPPORTED_SCHEMA_VERSION


class ReplyTooLarge(MessageError):
    """The answer would not fit a reply: the sender is told to ask for less (a smaller ``limit``)."""

    code = ErrorCode.VALIDATION_ERROR

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the answer has {size} bytes; a reply holds at most {limit}: ask for fewer (limit)")


class ClientError(CqrsError):
    pass


class BrokerUnavailable(ClientError):
    pass


class RequestTimeout(ClientError):
    pass


class ReplayRefused(ClientError):
    pass


class RemoteError(ClientError):
    def __init__(self, info: ErrorInfo) -> None:
        super().__init__(f"{info.code}: {info.message}")
        self.info = info


class CommandRejectedError(RemoteError):
    def __init__(self, info: ErrorInfo, command_id: UUID | None) -> None:
        super().__init__(info)
        self.command_id = command_id


class StartupError(CqrsError):
    pass


class TopologyMismatch(StartupError):
    pass
