"""Drives the transfer processes: the consumer of their queue (command-service.transfers) moves them
on the events it reads; the sweeper gives again the commands of stages that did not finish in time,
and counts the transfers past their budget.

Each move is one transaction on the process's row (store.py); the stage's command is then given in
process, through the use case (handler.handle), under the entry point's per-stream lock, with the
stage's deterministic command id: a crash between the two, a redelivery, or the sweeper giving it
again repeats nothing. A refusal of that command (insufficient funds, a full account) moves the
process too, through the same path, since it causes no event.
"""

import asyncio
import logging
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from uuid import UUID

from command_service import handler, metrics
from command_service.errors import CommandIdTaken
from command_service.ports import EventStore
from command_service.process import transfers
from command_service.process.store import ProcessStore, Tracked
from command_service.process.transfers import Refused, Seen, step_id
from command_service.recent_states import RecentStates
from command_service.routes import route_of
from command_service.transient import is_transient
from cqrs_client.errors import MessageError
from cqrs_client.messaging.envelope import Delivery
from cqrs_contracts import CommandRejected, CommandReply, Metadata, TransferRequested
from cqrs_shared.messaging.consumer import Outcome
from cqrs_shared.messaging.parsing import parse_event
from cqrs_shared.runtime.keyed_lock import KeyedLock

log = logging.getLogger(__name__)

# The sender recorded with the process manager's commands: their ids are bound to it (handler.py),
# so a client's command under one of those ids is not answered with the process's reply.
SENDER = "cqrs-transfer-process"
SWEEP_BATCH = 100


@dataclass(frozen=True)
class Timing:
    step_timeout: float = 5.0
    """Seconds a stage's command may take before the sweeper gives it again (then backing off)."""
    budget: float = 60.0
    """Seconds a transfer may take in all before it counts as stuck."""
    sweep_interval: float = 1.0


class TransferRunner:
    """The transfer processes' consumer (on_event) and sweeper (sweep, sweeping)."""

    def __init__(
        self,
        store: ProcessStore,
        events: EventStore,
        streams: KeyedLock,
        timing: Timing,
        recent: RecentStates | None = None,
    ) -> None:
        self._store = store
        self._recent = recent  # the entry point's: a step's commit keeps its account's state current
        self._events = events
        self._streams = streams  # the entry point's: one command per stream at a time in this process
        self._transfers = KeyedLock()
        self._timing = timing
        self._stuck: set[UUID] = set()

    async def on_event(self, delivery: Delivery) -> Outcome:
        """An event of the queue: a step of a transfer moves its process; any other is left alone;
        one that cannot be read is dead-lettered."""
        try:
            metadata = delivery.metadata()
            envelope = parse_event(delivery.body)
        except MessageError as error:
            return Outcome(dead_letter=error.info)
        transfer_id = transfers.transfer_of(envelope.event)
        if transfer_id is None:
            return Outcome()
        cause = str(envelope.event_id)
        async with self._transfers.hold(str(transfer_id)):
            if isinstance(envelope.event, TransferRequested):
                new = Tracked(
                    transfers.start(envelope.event), metadata.correlation_id, metadata.traceparent, cause
                )
                if await self._store.start(new, self._timing.step_timeout):
                    await self._run(new)
                return Outcome()
            seen = Seen(envelope.event, envelope.event_id, metadata.causation_id)
            moved = await self._store.advance(
                transfer_id, lambda p: transfers.advance(p, seen), cause, self._timing.step_timeout
            )
            await self._run(moved)
        return Outcome()

    async def sweep(self) -> None:
        """Give again the commands of the stages due; count and log (once) the transfers stuck."""
        for due in await self._store.due(SWEEP_BATCH, self._timing.step_timeout):
            transfer_id = due.process.transfer_id
            async with self._transfers.hold(str(transfer_id)):
                # Read again under the lock: the consumer may have moved it since it was picked.
                current = await self._store.get(transfer_id)
                if current is not None and current.process.stage == due.process.stage:
                    log.info("transfer %s: giving %s again", transfer_id, current.process.stage)
                    await self._run(current)
        stuck = set(await self._store.stuck(self._timing.budget))
        metrics.TRANSFERS_STUCK.set(len(stuck))
        for transfer_id in stuck - self._stuck:
            log.warning("transfer %s is stuck: unfinished after %g s", transfer_id, self._timing.budget)
        self._stuck = stuck

    async def sweeping(self, stopped: asyncio.Event) -> None:
        """Sweep every sweep_interval until ``stopped``; a failed round is logged, the next one runs."""
        while not stopped.is_set():
            try:
                await self.sweep()
            except Exception as error:  # the sweeper outlives an outage or a bad row; it logs each
                if is_transient(error):
                    log.warning("transfer sweep failed, trying again: %r", error)
                else:
                    log.exception("transfer sweep failed")
            with suppress(TimeoutError):
                await asyncio.wait_for(stopped.wait(), self._timing.sweep_interval)

    async def _run(self, tracked: Tracked | None) -> None:
        """Give the command of ``tracked``'s stage; while it is refused, move on and give the next.
        The caller holds the transfer's lock."""
        while tracked is not None:
            reply = await self._dispatch(tracked)
            if not isinstance(reply, CommandRejected):
                return
            stage = tracked.process.stage
            refused = Refused(stage, f"{reply.error.code.value}: {reply.error.message}")
            log.info("transfer %s: %s refused (%s)", tracked.process.transfer_id, stage, refused.reason)
            tracked = await self._store.advance(
                tracked.process.transfer_id,
                partial(transfers.advance, happened=refused),
                str(step_id(tracked.process.transfer_id, stage)),
                self._timing.step_timeout,
            )

    async def _dispatch(self, tracked: Tracked) -> CommandReply | None:
        command = transfers.command(tracked.process)
        if command is None:
            return None
        command_id = step_id(tracked.process.transfer_id, tracked.process.stage)
        metadata = Metadata(
            message_id=command_id,
            type=command.type,
            correlation_id=tracked.correlation_id,
            causation_id=tracked.cause,
            traceparent=tracked.traceparent,
        )
        async with self._streams.hold(str(route_of(command).target(command, command_id))):
            try:
                return await handler.handle(
                    command, metadata, self._events, sender=SENDER, recent=self._recent
                )
            except CommandIdTaken as error:
                # Someone else's command holds this stage's id: the stage cannot be given; the
                # transfer stays where it is and shows as stuck (metrics) for an operator.
                log.error("transfer %s: %s", tracked.process.transfer_id, error)
                return None
