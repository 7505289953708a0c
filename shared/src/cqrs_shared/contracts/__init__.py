"""The wire: frozen pydantic models of every command, event, query, reply and error.

Re-exports the public names so callers write ``from cqrs_shared.contracts import CreateCustomer``.
"""

from cqrs_shared.contracts.base import Contract, ErrorCode, ErrorInfo, message_type
from cqrs_shared.contracts.commands import (
    COMMAND_TYPES,
    ChangeCustomerLocale,
    Command,
    CreateCustomer,
    EditCustomerDetails,
    MakeCustomerPreferred,
)
from cqrs_shared.contracts.events import (
    EVENT_TYPES,
    CustomerCreated,
    CustomerDetailsEdited,
    CustomerLocaleChanged,
    CustomerMadePreferred,
    Event,
    EventEnvelope,
    routing_key,
)
from cqrs_shared.contracts.metadata import Metadata
from cqrs_shared.contracts.queries import (
    QUERY_TYPES,
    CustomerPage,
    CustomerView,
    GetCustomer,
    GetCustomersWithName,
    GetPreferredCustomers,
    Query,
    ReadStream,
    StreamEvents,
)
from cqrs_shared.contracts.replies import (
    CommandAccepted,
    CommandRejected,
    CommandReply,
    QueryFailed,
    QueryOk,
)

__all__ = [
    "COMMAND_TYPES",
    "EVENT_TYPES",
    "QUERY_TYPES",
    "ChangeCustomerLocale",
    "Command",
    "CommandAccepted",
    "CommandRejected",
    "CommandReply",
    "Contract",
    "CreateCustomer",
    "CustomerCreated",
    "CustomerDetailsEdited",
    "CustomerLocaleChanged",
    "CustomerMadePreferred",
    "CustomerPage",
    "CustomerView",
    "EditCustomerDetails",
    "ErrorCode",
    "ErrorInfo",
    "Event",
    "EventEnvelope",
    "GetCustomer",
    "GetCustomersWithName",
    "GetPreferredCustomers",
    "MakeCustomerPreferred",
    "Metadata",
    "Query",
    "QueryFailed",
    "QueryOk",
    "ReadStream",
    "StreamEvents",
    "message_type",
    "routing_key",
]
