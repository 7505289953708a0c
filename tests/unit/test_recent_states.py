"""Deciding on recent states (command_service/recent_states.py) on the in-memory event store."""

import pytest

from command_service.memory import InMemoryEventStore
from tests.recent_contract import RecentStatesContract, TogetherContract


class TestOnTheInMemoryStore(RecentStatesContract):
    @pytest.fixture
    def store(self) -> InMemoryEventStore:
        return InMemoryEventStore()


class TestTogetherOnTheInMemoryStore(TogetherContract):
    @pytest.fixture
    def store(self) -> InMemoryEventStore:
        return InMemoryEventStore()
