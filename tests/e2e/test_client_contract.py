"""The real client against the pair keeps the contract the fake keeps (tests/client_contract.py)."""

from tests.client_contract import ClientContract


class TestCqrsClient(ClientContract):
    """The ``client`` fixture (tests/pair.py): CqrsClient on the session's pair."""
