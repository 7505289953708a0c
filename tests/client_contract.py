"""What a client of the pair does, whichever it is: the real CqrsClient against the pair
(tests/e2e/test_client_contract.py) and the FakeClient users test with (tests/unit/test_fake_client.py)
pass the same checks. Subclass ``ClientContract`` with a ``client`` fixture; a fake must first be
programmed to answer as the pair would (``program_like_the_pair``)."""

from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from cqrs_client.client import CqrsClient, raise_for_rejection
from cqrs_client.errors import CommandRejectedError, RemoteError
from cqrs_client.fake import FakeClient
from cqrs_contracts import (
    CUSTOMER,
    CommandRejected,
    CommandReply,
    CreateCustomer,
    CustomerView,
    ErrorCode,
    ErrorInfo,
    GetCustomer,
    GetTransfer,
    ListTransfers,
    MakeCustomerPreferred,
    TransferPage,
)
from cqrs_contracts.replies import QueryFailed

Client = CqrsClient | FakeClient


def program_like_the_pair(fake: FakeClient) -> None:
    """Customers created, their views, and the rejection of a command for one never created."""
    views: dict[UUID, CustomerView] = {}

    def create(command: CreateCustomer) -> CommandReply:
        customer_id = command.customer_id or uuid4()
        now = datetime.now(UTC)
        views[customer_id] = CustomerView(
            id=customer_id,
            name=command.name,
            locale=command.locale,
            is_preferred=False,
            version=1,
            created_at=now,
            updated_at=now,
        )
        return fake.accepted(CUSTOMER, customer_id)

    def prefer(command: MakeCustomerPreferred) -> CommandReply:
        info = ErrorInfo(code=ErrorCode.NOT_FOUND, message=f"customer {command.customer_id} does not exist")
        return CommandRejected(command_id=None, error=info)

    def get(query: GetCustomer) -> CustomerView | QueryFailed:
        found = views.get(query.customer_id)
        if found is None:
            return QueryFailed(error=ErrorInfo(code=ErrorCode.NOT_FOUND, message="no such customer"))
        return found

    def transfer(query: GetTransfer) -> QueryFailed:
        return QueryFailed(error=ErrorInfo(code=ErrorCode.NOT_FOUND, message="no such transfer"))

    fake.on(CreateCustomer, create)
    fake.on(MakeCustomerPreferred, prefer)
    fake.answer(GetCustomer, get)
    fake.answer(GetTransfer, transfer)
    fake.answer(ListTransfers, lambda query: TransferPage(items=[], next=None))


class ClientContract:
    async def test_a_command_id_sent_again_gets_the_first_reply(self, client: Client) -> None:
        command_id, customer_id = uuid4(), uuid4()
        command = CreateCustomer(customer_id=customer_id, name="Ada", locale="en")
        first = raise_for_rejection(await client.send(command, command_id=command_id, attempts=2))
        again = raise_for_rejection(await client.send(command, command_id=command_id))
        assert (first.id, first.version, first.command_id) == (customer_id, 1, command_id)
        assert again == first

    async def test_ask_returns_the_querys_own_result_type(self, client: Client) -> None:
        created = raise_for_rejection(await client.send(CreateCustomer(name="Grace", locale="en-GB")))
        view = await client.ask(GetCustomer(customer_id=created.id, token=created.token), timeout=5)
        assert isinstance(view, CustomerView)
        assert (view.id, view.name, view.version) == (created.id, "Grace", 1)

    async def test_an_error_reply_to_a_query_raises_remote_error(self, client: Client) -> None:
        with pytest.raises(RemoteError) as raised:
            await client.ask(GetCustomer(customer_id=uuid4()))
        assert raised.value.info.code == ErrorCode.NOT_FOUND

    async def test_a_rejection_is_returned_and_raise_for_rejection_raises_it(self, client: Client) -> None:
        reply = await client.send(MakeCustomerPreferred(customer_id=uuid4()))
        with pytest.raises(CommandRejectedError) as raised:
            raise_for_rejection(reply)
        assert raised.value.info.code == ErrorCode.NOT_FOUND
        assert isinstance(raised.value, RemoteError)  # one hierarchy: every client error

    async def test_a_transfer_never_requested_is_not_found(self, client: Client) -> None:
        with pytest.raises(RemoteError) as raised:
            await client.get_transfer(uuid4())
        assert raised.value.info.code == ErrorCode.NOT_FOUND

    async def test_transfers_are_listed_a_bounded_page_at_a_time(self, client: Client) -> None:
        page = await client.list_transfers(stuck=True, older_than=3600, limit=5)
        assert isinstance(page, TransferPage)
        assert len(page.items) <= 5
