"""The typed client of the CQRS pair and what it needs of the wire: send commands, ask queries.

from cqrs_client import CqrsClient, raise_for_rejection          # the client (client.py)
from cqrs_client.fake import FakeClient                          # for your own tests
from cqrs_contracts import CreateCustomer, GetCustomer           # the messages (cqrs-pair-contracts)
"""

from cqrs_client.client import DEFAULT_TIMEOUT, CqrsClient, raise_for_rejection

__all__ = ["DEFAULT_TIMEOUT", "CqrsClient", "raise_for_rejection"]
