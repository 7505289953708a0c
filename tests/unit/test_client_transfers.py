"""The clients' transfer calls (cqrs_client.transfers), on the fake: what they send and ask, a
rejection raised, and a wait that ends when the transfer does, or times out saying where it stands."""

from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest
from pydantic import ValidationError

from cqrs_client.errors import CommandRejectedError, RequestTimeout
from cqrs_client.fake import FakeClient
from cqrs_contracts import (
    TRANSFER,
    CommandRejected,
    ErrorCode,
    ErrorInfo,
    GetTransfer,
    ListTransfers,
    TransferMoney,
    TransferPage,
    TransferStatus,
    TransferView,
)

SOURCE, DESTINATION = uuid4(), uuid4()


def view(transfer_id: object, status: TransferStatus) -> TransferView:
    now = datetime.now(UTC)
    return TransferView.model_validate(
        {
            "id": transfer_id,
            "from_account_id": SOURCE,
            "to_account_id": DESTINATION,
            "currency": "EUR",
            "amount": "12.50",
            "status": status,
            "requested_at": now,
            "updated_at": now,
            "version": 1,
        }
    )


async def test_transfer_sends_transfer_money_and_returns_the_accepted_reply() -> None:
    fake = FakeClient()
    transfer_id = uuid4()
    fake.on(TransferMoney, lambda command: fake.accepted(TRANSFER, command.transfer_id or uuid4()))
    accepted = await fake.transfer(
        SOURCE, DESTINATION, Decimal("12.50"), transfer_id=transfer_id, reference="rent"
    )
    assert (accepted.stream_type, accepted.id, accepted.version) == ("transfer", transfer_id, 1)
    [sent] = fake.sent
    assert isinstance(sent, TransferMoney)
    assert (sent.from_account_id, sent.to_account_id, sent.amount, sent.reference) == (
        SOURCE,
        DESTINATION,
        Decimal("12.50"),
        "rent",
    )


async def test_a_rejected_transfer_raises() -> None:
    fake = FakeClient()
    info = ErrorInfo(code=ErrorCode.NOT_FOUND, message="account does not exist")
    fake.on(TransferMoney, lambda command: CommandRejected(command_id=None, error=info))
    with pytest.raises(CommandRejectedError) as raised:
        await fake.transfer(SOURCE, DESTINATION, "1.00")
    assert raised.value.info.code == ErrorCode.NOT_FOUND


async def test_a_transfer_to_the_same_account_is_refused_before_it_is_sent() -> None:
    with pytest.raises(ValidationError):
        await FakeClient().transfer(SOURCE, SOURCE, "1.00")


async def test_settled_transfer_asks_until_the_transfer_ends() -> None:
    fake = FakeClient()
    transfer_id = uuid4()
    statuses: list[TransferStatus] = ["requested", "debited", "completed"]
    fake.answer(GetTransfer, lambda query: view(query.transfer_id, statuses.pop(0)))
    token = fake.accepted(TRANSFER, transfer_id).token
    ended = await fake.settled_transfer(transfer_id, token=token, within=5)
    assert (ended.id, ended.status) == (transfer_id, "completed")
    assert len(fake.asked) == 3
    assert all(isinstance(query, GetTransfer) and query.token for query in fake.asked)


async def test_settled_transfer_times_out_saying_where_the_transfer_stands() -> None:
    fake = FakeClient()
    fake.answer(GetTransfer, lambda query: view(query.transfer_id, "debited"))
    with pytest.raises(RequestTimeout, match="still debited"):
        await fake.settled_transfer(uuid4(), within=0.2)


async def test_list_transfers_asks_for_the_stuck_ones() -> None:
    fake = FakeClient()
    fake.answer(ListTransfers, lambda query: TransferPage(items=[], next=None))
    await fake.list_transfers(stuck=True, older_than=30, limit=10)
    assert fake.asked == [ListTransfers(stuck=True, older_than=30, limit=10)]
