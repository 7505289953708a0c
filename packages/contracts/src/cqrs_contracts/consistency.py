"""Consistency tokens: "the view must have stream S at version >= N", for one or several streams.

A token reads ``account:0b1e…@7,customer:6f1c…@3``; every accepted command reply carries the token of
its own stream, and tokens of several replies join with commas.
"""

from typing import Annotated, Any
from uuid import UUID

from pydantic import BeforeValidator, Field, PlainSerializer, ValidationError

from cqrs_contracts.base import MAX_TOKEN_POSITIONS, MAX_VERSION, Contract
from cqrs_contracts.streams import StreamType


class StreamPosition(Contract):
    stream_type: StreamType
    stream_id: UUID
    version: int = Field(ge=1, le=MAX_VERSION)

    def __str__(self) -> str:
        """The one place the token format is written; parse_token reads it back."""
        return f"{self.stream_type}:{self.stream_id}@{self.version}"


def parse_token(text: str) -> tuple[StreamPosition, ...]:
    """``"account:<uuid>@7,customer:<uuid>@3"`` -> positions; malformed parts raise ValueError."""
    positions = []
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        stream, at, version = part.rpartition("@")
        stream_type, colon, stream_id = stream.partition(":")
        if not (at and colon and version.isdigit()):
            raise ValueError(f"not a consistency token: {part!r} (expected TYPE:ID@VERSION)")
        try:
            positions.append(
                StreamPosition.model_validate(
                    {"stream_type": stream_type, "stream_id": stream_id, "version": int(version)}
                )
            )
        except ValidationError:
            raise ValueError(
                f"not a consistency token: {part!r} (TYPE is customer or account, ID a UUID, VERSION >= 1)"
            ) from None
    return tuple(positions)


def format_token(positions: tuple[StreamPosition, ...]) -> str:
    return ",".join(str(position) for position in positions)


def _parse(value: Any) -> Any:
    return parse_token(value) if isinstance(value, str) else value


Token = Annotated[
    tuple[StreamPosition, ...],
    BeforeValidator(_parse),
    Field(max_length=MAX_TOKEN_POSITIONS),
    PlainSerializer(format_token, return_type=str),
]
