"""Errors of the query side's use cases, each with the code its reply carries.

QueryError
├── NotFound      no such document
├── ViewBehind    the projection did not reach the asked version in time
├── BadCursor     a pagination cursor this service did not issue
├── RebuildRunning  a rebuild of the read model is running already
└── RebuildNeedsOneReplica  partitions are projected by several replicas: a rebuild would miss events
"""

from cqrs_contracts import ErrorCode


class QueryError(Exception):
    code: ErrorCode = ErrorCode.INTERNAL_ERROR


class NotFound(QueryError):
    code = ErrorCode.NOT_FOUND


class ViewBehind(QueryError):
    code = ErrorCode.VIEW_BEHIND


class BadCursor(QueryError):
    code = ErrorCode.VALIDATION_ERROR


class ForgedToken(QueryError):
    """A consistency token no command reply could have issued (a version far beyond the view)."""

    code = ErrorCode.VALIDATION_ERROR


class RebuildRunning(QueryError):
    code = ErrorCode.REBUILD_RUNNING


class RebuildNeedsOneReplica(QueryError):
    code = ErrorCode.CONCURRENCY_CONFLICT


class RepairFailed(Exception):
    """A gap could not be filled from the command side; the event waits and is retried."""
