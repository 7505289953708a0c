"""The query service's message entry points: parse, call the use case, map errors to outcomes."""

from typing import Any

from cqrs_client.errors import MessageError
from cqrs_client.messaging.envelope import Delivery
from cqrs_client.messaging.topology import OPERATIONS_QUEUE
from cqrs_contracts import (
    Contract,
    ErrorCode,
    ErrorInfo,
    Event,
    Operation,
    Query,
    RebuildReadModel,
)
from cqrs_contracts.replies import QueryFailed, QueryOk
from cqrs_shared.messaging.consumer import Outcome
from cqrs_shared.messaging.parsing import Catalogue, members, parse_event
from query_service import metrics, queries
from query_service.errors import QueryError
from query_service.operations.answers import Operations
from query_service.operations.rebuild import Rebuilder
from query_service.projection.consistency import Consistency
from query_service.projection.projector import Projector
from query_service.read_model.model import ReadModel

QUERIES = Catalogue[Query](Query, ErrorCode.UNKNOWN_QUERY)
# The event queue carries the events, and a rebuild request handed on to the projecting process.
REBUILD = str(RebuildReadModel.model_fields["type"].default)
EVENT_TYPES = frozenset(str(model.model_fields["type"].default) for model in members(Event)) | {REBUILD}


async def on_query(
    delivery: Delivery, model: ReadModel, consistency: Consistency, operations: Operations
) -> Outcome:
    """A query: reply with the result or a structured error; unparseable ones are dead-lettered.
    An operation sent here is refused: operations go to the operators' queue (on_operation)."""
    query = _parsed(delivery)
    if isinstance(query, Outcome):
        return query
    if isinstance(query, Operation):
        return _forbidden(f"{query.type} is an operation: operators send it to {OPERATIONS_QUEUE}")
    return await _answer(query, model, consistency, operations)


async def on_operation(
    delivery: Delivery,
    model: ReadModel,
    consistency: Consistency,
    operations: Operations,
    operators: frozenset[str],
) -> Outcome:
    """An operation from the operators' queue, answered only for the users in CQRS_OPERATORS (the
    broker checked the user_id against the sender's login; on a retry, senders.py)."""
    if delivery.sender not in operators:
        return _forbidden(f"user {(delivery.sender or '(none)')[:64]!r} is not an operator (CQRS_OPERATORS)")
    query = _parsed(delivery)
    if isinstance(query, Outcome):
        return query
    if not isinstance(query, Operation):
        return _forbidden(f"{query.type} is a query: it goes to cqrs.queries, not {OPERATIONS_QUEUE}")
    return await _answer(query, model, consistency, operations)


def _parsed(delivery: Delivery) -> Query | Outcome:
    try:
        delivery.check_schema()
        return QUERIES.parse(delivery.body, delivery.schema_version, claimed=[delivery.type])
    except MessageError as error:
        dead = error.info if error.code != ErrorCode.VALIDATION_ERROR or not delivery.reply_to else None
        return Outcome(reply=QueryFailed(error=error.info), dead_letter=dead)


def _forbidden(why: str) -> Outcome:
    info = ErrorInfo(code=ErrorCode.FORBIDDEN, message=why)
    return Outcome(reply=QueryFailed(error=info), dead_letter=info)


async def _answer(
    query: Query, model: ReadModel, consistency: Consistency, operations: Operations
) -> Outcome:
    behind = None if isinstance(query, Operation) else consistency.catching_up()
    if behind is not None:
        info = ErrorInfo(code=ErrorCode.VIEW_BEHIND, message=f"the read model is {behind}")
        return Outcome(reply=QueryFailed(error=info))
    try:
        result: Contract
        if isinstance(query, Operation):
            result = await operations.answer(query)
        else:
            result = await queries.answer(query, model.store, consistency)
    except QueryError as error:
        return Outcome(reply=QueryFailed(error=ErrorInfo(code=error.code, message=str(error))))
    return Outcome(reply=QueryOk[Any](result=result))


async def on_event(
    delivery: Delivery, projector: Projector, consistency: Consistency, rebuilder: Rebuilder
) -> Outcome:
    """An event: project it; one that cannot be understood goes to the dead-letter queue.
    A rebuild request starts the rebuild here, in the process that projects."""
    if delivery.type == REBUILD:
        rebuilder.start()
        return Outcome()
    try:
        # The body's schema_version decides (the header repeats it; before versions it said 1).
        envelope = parse_event(delivery.body)
    except MessageError as error:
        return Outcome(dead_letter=error.info)
    if delivery.position is not None:  # a live event's position comes as a header (topology.py)
        envelope = envelope.model_copy(update={"position": delivery.position})
    await projector.handle(envelope)
    consistency.moved(envelope.stream_id)
    metrics.applied(envelope.occurred_at)
    return Outcome()
