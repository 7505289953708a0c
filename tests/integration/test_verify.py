"""VerifyStream on the real read model: a long stream is folded and compared a page at a time, in the
memory of one page, and a document changed by hand is still found."""

from uuid import UUID, uuid4

import pytest

from cqrs_contracts import CustomerCreated, EventEnvelope
from query_service.operations import verify
from query_service.operations.answers import Operations
from query_service.projection.consistency import Consistency
from query_service.projection.projections import project
from query_service.read_model import layout
from query_service.read_model.model import ReadModel
from query_service.read_model.store import ReadStore
from tests.builders import savings, stream

PAGE = 100


async def nothing() -> None:
    return None


async def test_a_long_stream_is_verified_a_page_at_a_time_and_a_changed_bucket_found(
    read_store: ReadStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer, account = uuid4(), uuid4()
    events = savings(account, customer, deposits=6 * PAGE - 1)  # versions 1-600: six pages, 13 buckets
    owner = stream(CustomerCreated(customer_id=customer, name="Long", locale="en"))
    for envelope in [*owner, *events]:
        for change in project(envelope):
            await read_store.apply(change)
    # By hand: the first deposit's line in the first history bucket.
    first_bucket = layout.history_bucket(str(account), 0)
    await read_store.db[layout.TRANSACTIONS].update_one(
        {layout.ID: first_bucket}, {"$set": {layout.history_item(2): "tampered"}}
    )

    async def read_stream(stream_id: UUID, after: int) -> list[EventEnvelope]:
        assert stream_id == account
        return events[after : after + PAGE]

    most_open = 0
    compare = verify.Fold.compare

    def counting(fold: verify.Fold, *args: object, **kwargs: bool) -> None:
        nonlocal most_open
        most_open = max(most_open, len(fold.open))
        compare(fold, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(verify.Fold, "compare", counting)
    model = ReadModel(read_store.db, read_store)
    operations = Operations(model, read_stream, Consistency(model, max_wait=1), nothing)
    check = await operations.verify(account)

    assert check.version == 6 * PAGE
    assert [(item.document, item.field, item.found) for item in check.differences] == [
        (f"{layout.TRANSACTIONS}/{first_bucket}", layout.history_item(2), '"tampered"')
    ]
    assert check.differences_found == 1
    # the account, its history buckets, its 599 transactions' ledger documents, its customer
    assert check.documents == 1 + 13 + 599 + 1
    # A page of 100 changes the account, its customer, at most three buckets and its 100 ledger
    # documents; open are those of two pages at most (the last page's, until compared): 207 of the
    # stream's 614. The whole stream was held before (issue 20).
    assert most_open <= 7 + 2 * PAGE
