"""Replies: what a command or query sender gets back on its reply_to."""

from typing import Annotated, Generic, Literal, TypeVar
from uuid import UUID

from pydantic import Field

from cqrs_contracts.base import ErrorInfo, Tolerant
from cqrs_contracts.streams import StreamType

T = TypeVar("T")


class CommandAccepted(Tolerant):
    """The command committed; ``version`` is the stream's new version (a consistency token)."""

    status: Literal["accepted"] = "accepted"
    command_id: UUID
    stream_type: StreamType
    id: UUID
    version: int
    token: str = Field(description="consistency token: pass it to a query to read this write")


class CommandRejected(Tolerant):
    status: Literal["rejected"] = "rejected"
    command_id: UUID | None
    error: ErrorInfo


CommandReply = Annotated[CommandAccepted | CommandRejected, Field(discriminator="status")]


class QueryOk(Tolerant, Generic[T]):
    status: Literal["ok"] = "ok"
    result: T


class QueryFailed(Tolerant):
    status: Literal["error"] = "error"
    error: ErrorInfo
