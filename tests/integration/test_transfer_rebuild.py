"""A rebuild brings transfer streams into the new generation (numbered in the order they were
requested), and verify folds a transfer stream and an account whose history holds a transfer leg:
against a real MongoDB-compatible server, the event store in memory."""

from datetime import timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from cqrs_contracts import (
    AccountOpened,
    EventEnvelope,
    MoneyDeposited,
    MoneyWithdrawn,
    RebuildProgress,
    StreamList,
    StreamRef,
    TransferCompleted,
    TransferDebited,
    TransferLeg,
    TransferRequested,
)
from query_service.operations import rebuild
from query_service.operations.answers import Operations
from query_service.operations.rebuild import Rebuilder
from query_service.projection.consistency import Consistency
from query_service.projection.projector import Projector
from query_service.read_model import control, layout
from query_service.read_model.model import ReadModel
from query_service.read_model.store import ReadStore
from tests.builders import AT, stream
from tests.waiting import until

pytestmark = pytest.mark.timeout(60)

OWNER, OTHER = uuid4(), uuid4()
SOURCE, DESTINATION = uuid4(), uuid4()
FIRST, SECOND = uuid4(), uuid4()


def requested(transfer_id: UUID, amount: str) -> TransferRequested:
    return TransferRequested(
        transfer_id=transfer_id,
        from_account_id=SOURCE,
        to_account_id=DESTINATION,
        from_customer_id=OWNER,
        to_customer_id=OTHER,
        currency="EUR",
        amount=Decimal(amount),
        reference="",
    )


def leg(step: str, counterpart: UUID) -> TransferLeg:
    return TransferLeg.model_validate({"transfer_id": FIRST, "counterpart": counterpart, "step": step})


def history() -> dict[UUID, list[EventEnvelope]]:
    """Two accounts, a completed transfer between them, and a later one still requested."""
    money = {"customer_id": OWNER, "currency": "EUR", "reference": ""}
    return {
        SOURCE: stream(
            AccountOpened(account_id=SOURCE, customer_id=OWNER, currency="EUR"),
            MoneyDeposited(account_id=SOURCE, amount=Decimal(10), balance=Decimal(10), **money),
            MoneyWithdrawn(
                account_id=SOURCE,
                amount=Decimal(4),
                balance=Decimal(6),
                transfer=leg("debit", DESTINATION),
                **money,
            ),
        ),
        DESTINATION: stream(
            AccountOpened(account_id=DESTINATION, customer_id=OTHER, currency="EUR"),
            MoneyDeposited(
                account_id=DESTINATION,
                amount=Decimal(4),
                balance=Decimal(4),
                transfer=leg("credit", SOURCE),
                **{**money, "customer_id": OTHER},
            ),
        ),
        FIRST: stream(
            requested(FIRST, "4"),
            TransferDebited(transfer_id=FIRST, withdrawal=uuid4()),
            TransferCompleted(transfer_id=FIRST, deposit=uuid4()),
        ),
        SECOND: stream(requested(SECOND, "1"), at=AT + timedelta(seconds=5)),
    }


async def test_a_rebuild_brings_transfers_in_and_verify_finds_them_equal(
    read_store: ReadStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rebuild, "SWITCH_GRACE", 0.0)
    events = history()

    async def read_stream(stream_id: UUID, after: int) -> list[EventEnvelope]:
        return [item for item in events.get(stream_id, []) if item.version > after]

    async def list_streams(after: UUID | None) -> StreamList:
        refs = [
            StreamRef(stream_type=items[0].stream_type, stream_id=stream_id, version=len(items))
            for stream_id, items in sorted(events.items())
        ]
        return StreamList(streams=refs, next=None, total=len(refs))

    model = ReadModel(read_store.db)
    rebuilder = Rebuilder(model, Projector(model, read_stream), read_stream, list_streams)
    assert rebuilder.start()

    async def finished() -> RebuildProgress | None:
        progress = await control.rebuild(read_store.db)
        return progress if progress is not None and progress.state in ("done", "failed") else None

    progress = await until(finished, timeout=30, what="the rebuild")
    assert progress.state == "done", progress

    store = model.store
    assert store.generation == 1
    page = await store.transfers.newest(10, None)
    assert [(view.id, view.status) for view in page.items] == [(SECOND, "requested"), (FIRST, "completed")]
    numbered = await store.documents(layout.TRANSFERS, [str(FIRST), str(SECOND)])
    assert (numbered[str(FIRST)]["transfer_seq"], numbered[str(SECOND)]["transfer_seq"]) == (0, 1)
    source = await store.pages.transactions(SOURCE, 10, None)
    assert [(item.version, item.transfer_id, item.counterpart) for item in source.items] == [
        (3, FIRST, DESTINATION),
        (2, None, None),
    ]

    operations = Operations(model, read_stream, Consistency(model, 1.0), hand_on_rebuild=_nothing)
    for stream_id in (FIRST, SECOND, SOURCE, DESTINATION):
        check = await operations.verify(stream_id)
        assert (check.differences_found, check.differences) == (0, []), stream_id
    await store.drop()


async def _nothing() -> None:
    return None
