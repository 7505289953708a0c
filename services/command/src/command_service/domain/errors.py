"""Domain rejections: each carries the stable error code the reply will show.

DomainError
├── NotFound          the aggregate does not exist
├── AlreadyExists     creating what exists already
├── VersionMismatch   the command's expected_version is not the current version
├── InsufficientFunds a withdrawal beyond the balance
├── InvalidValue      a value the aggregate cannot take (an amount finer than its currency)
├── TooManyAccounts   a customer who has the most accounts one may have opens another
└── InvalidTransition a transfer moved out of order, or after it ended
"""

from cqrs_contracts import ErrorCode


class DomainError(Exception):
    code: ErrorCode

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND


class AlreadyExists(DomainError):
    code = ErrorCode.ALREADY_EXISTS


class VersionMismatch(DomainError):
    code = ErrorCode.CONCURRENCY_CONFLICT


class InsufficientFunds(DomainError):
    code = ErrorCode.INSUFFICIENT_FUNDS


class InvalidValue(DomainError):
    code = ErrorCode.VALIDATION_ERROR


class TooManyAccounts(DomainError):
    code = ErrorCode.VALIDATION_ERROR


class InvalidTransition(DomainError):
    # Not concurrency_conflict: trying again cannot help a transfer that has ended.
    code = ErrorCode.VALIDATION_ERROR
