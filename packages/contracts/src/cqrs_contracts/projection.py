"""Operating the read model: rebuild it from the event store, follow the rebuild, verify documents.

Sent to the query service's operators' queue, answered like a query (``cqrs projection ...``).
"""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from cqrs_contracts.base import Answered, Contract, Tolerant

RebuildState = Literal["requested", "building", "switching", "done", "failed"]


class RebuildProgress(Tolerant):
    state: RebuildState
    target: int = Field(description="the generation being built")
    runner: str = Field(description="the query service process that builds it (host:pid)")
    started_at: datetime
    updated_at: datetime = Field(description="the runner's last heartbeat")
    finished_at: datetime | None = None
    streams_total: int | None = Field(default=None, description="the event store's streams when it began")
    streams_done: int = 0
    events_applied: int = 0
    error: str | None = None


class ProjectionStatus(Tolerant):
    generation: int = Field(description="the collections queries read: 0 the first, then one per rebuild")
    rebuild: RebuildProgress | None = None
    running: bool = Field(default=False, description="a rebuild runs: its runner's heartbeat is fresh")


class Difference(Tolerant):
    document: str = Field(description="collection/id")
    field: str = Field(description="dotted path")
    expected: str | None = Field(description="from the fold of the event store (JSON); none: absent")
    found: str | None = Field(description="in the read model (JSON); none: absent")


class StreamCheck(Tolerant):
    stream_id: UUID
    version: int = Field(description="the stream's version that was folded")
    documents: int = Field(description="documents compared")
    differences: list[Difference] = Field(description="the differences, the first 1,000 at most")
    differences_found: int | None = Field(
        default=None, description="how many differences there are (none: a service that said only the list)"
    )


class RebuildReadModel(Contract, Answered[ProjectionStatus]):
    """Start a rebuild of the read model (or resume one whose runner stopped); refused while one runs."""

    type: Literal["RebuildReadModel"] = "RebuildReadModel"


class GetProjectionStatus(Contract, Answered[ProjectionStatus]):
    """The generation of the read model that queries read, and the last or running rebuild."""

    type: Literal["GetProjectionStatus"] = "GetProjectionStatus"


class VerifyStream(Contract, Answered[StreamCheck]):
    """Fold one stream of the event store and compare every field it writes with the read model."""

    type: Literal["VerifyStream"] = "VerifyStream"
    stream_id: UUID


# What the operators' queue (query-service.operations) takes, spelled once: the query service answers
# it, cqrs dlq replays only these there.
Operation = RebuildReadModel | GetProjectionStatus | VerifyStream
