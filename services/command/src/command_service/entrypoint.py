"""The command service's message entry points: parse, call the use case, map errors to outcomes."""

from command_service.errors import CommandIdTaken
from command_service.grants import Grants
from command_service.ports import EventStore
from command_service.stream_commands import StreamCommands
from cqrs_client.errors import InvalidMessage, MessageError
from cqrs_client.messaging.envelope import Delivery
from cqrs_client.messaging.topology import COMMANDS_EXCHANGE, STREAMS_EXCHANGE
from cqrs_contracts import (
    Command,
    CommandRejected,
    Contract,
    Deposit,
    ErrorCode,
    ErrorInfo,
    StreamEvents,
    Withdraw,
    message_type,
)
from cqrs_contracts.commands import PROCESS_COMMANDS
from cqrs_contracts.queries import ListStreams, PositionedEvents, ReadAll, ReadStream, StreamList
from cqrs_contracts.replies import QueryFailed, QueryOk
from cqrs_shared.messaging.consumer import Outcome
from cqrs_shared.messaging.parsing import Catalogue

COMMANDS = Catalogue[Command](Command, ErrorCode.UNKNOWN_COMMAND)
StreamRead = ReadStream | ListStreams | ReadAll
STREAM_READS = Catalogue[StreamRead](StreamRead, ErrorCode.UNKNOWN_QUERY)


def command_error(info: ErrorInfo) -> Contract:
    return CommandRejected(command_id=None, error=info)


async def on_command(delivery: Delivery, commands: StreamCommands, grants: Grants) -> Outcome:
    """A command message: reply accepted/rejected; what cannot be handled is also dead-lettered."""
    try:
        metadata = delivery.metadata()
        # On cqrs.commands the routing key names the command, as the type property does.
        claims = (
            [delivery.type, delivery.routing_key]
            if delivery.exchange == COMMANDS_EXCHANGE
            else [delivery.type]
        )
        command = COMMANDS.parse(delivery.body, delivery.schema_version, claimed=claims)
    except InvalidMessage as error:
        # A well-formed command that breaks the rules: the sender is told; without a sender to
        # tell, nothing can be done and it is kept in the dead-letter queue.
        rejected = CommandRejected(command_id=None, error=error.info)
        return Outcome(reply=rejected, dead_letter=None if delivery.reply_to else error.info)
    except MessageError as error:
        return Outcome(reply=CommandRejected(command_id=None, error=error.info), dead_letter=error.info)
    refusal = grants.refusal(delivery.sender, message_type(command)) or _process_only(command)
    if refusal is not None:
        # Judged on the command the body holds, whatever the routing key or type property said.
        refused = ErrorInfo(code=ErrorCode.FORBIDDEN, message=refusal)
        return Outcome(
            reply=CommandRejected(command_id=metadata.message_id, error=refused), dead_letter=refused
        )
    # One command per stream at a time in this process: concurrent commands on one aggregate
    # queue up instead of colliding in the database and retrying, and go together (stream_commands).
    try:
        return Outcome(reply=await commands.handle(command, metadata, delivery.sender))
    except CommandIdTaken as error:
        # Not recorded (the id's result is the first command's), so, without a sender to tell,
        # the dead-letter queue is the only trace of a command that was never applied.
        taken = ErrorInfo(code=ErrorCode.CONCURRENCY_CONFLICT, message=str(error))
        reply = CommandRejected(command_id=metadata.message_id, error=taken)
        return Outcome(reply=reply, dead_letter=None if delivery.reply_to else taken)


def _process_only(command: Command) -> str | None:
    """Why ``command`` may come only from the transfer process manager (in process), if it may:
    off the broker it would move a transfer, or money as a transfer's step, on anyone's word."""
    if command.type in PROCESS_COMMANDS:
        return f"{command.type} is given by the transfer process manager only"
    if isinstance(command, Deposit | Withdraw) and command.transfer is not None:
        return f"a {command.type} with a transfer is given by the transfer process manager only"
    return None


async def on_read_stream(delivery: Delivery, store: EventStore, readers: frozenset[str]) -> Outcome:
    """A stream's events after a version (the projector's gap repair), a page of the streams (for a
    rebuild or a verify of the read model), or the events of all streams after a global position
    (a subscriber catching up), from the event store. Each answer may hold any event, so what
    comes through the outside readers' door is answered only for ``readers`` (_outsider)."""
    refusal = _outsider(delivery, readers)
    if refusal is not None:
        refused = ErrorInfo(code=ErrorCode.FORBIDDEN, message=refusal)
        return Outcome(reply=QueryFailed(error=refused), dead_letter=refused)
    try:
        delivery.check_schema()
        request = STREAM_READS.parse(delivery.body, delivery.schema_version, claimed=[delivery.type])
    except MessageError as error:
        return Outcome(reply=QueryFailed(error=error.info), dead_letter=error.info)
    if isinstance(request, ListStreams):
        return Outcome(reply=QueryOk[StreamList](result=await _list_streams(request, store)))
    if isinstance(request, ReadAll):
        found, head = await store.read_all(request.after_position, request.limit)
        positioned = PositionedEvents(events=[item.envelope for item in found], head=head)
        return Outcome(reply=QueryOk[PositionedEvents](result=positioned))
    events = await store.read_stream(request.stream_id, request.after_version, request.limit)
    result = StreamEvents(events=[item.envelope for item in events])
    return Outcome(reply=QueryOk[StreamEvents](result=result))


def _outsider(delivery: Delivery, readers: frozenset[str]) -> str | None:
    """Why a stream read through ``cqrs.streams`` may not be answered (its user_id, which the broker
    checked, is not in CQRS_EVENT_READERS), or None. Through the default exchange come only the
    pair's own services and its operators: no other role may write to it (messaging/access.py)."""
    if delivery.exchange != STREAMS_EXCHANGE or delivery.sender in readers:
        return None
    user = (delivery.sender or "(none)")[:64]
    return f"user {user!r} may not read the event store (CQRS_EVENT_READERS)"


async def _list_streams(request: ListStreams, store: EventStore) -> StreamList:
    refs = await store.list_streams(request.after, request.limit)
    total = await store.count_streams() if request.after is None else None
    next_page = refs[-1].stream_id if len(refs) == request.limit else None
    return StreamList(streams=refs, next=next_page, total=total)
