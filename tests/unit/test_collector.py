"""The garbage collector's pauses are measured, and settle() freezes what start-up made."""

import gc
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from cqrs_shared.runtime import collector


def _pauses(generation: int) -> float:
    count = REGISTRY.get_sample_value("cqrs_gc_pause_seconds_count", {"generation": str(generation)})
    return count or 0.0


@pytest.fixture
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_every_full_collection_is_timed_once_however_often_watching_starts() -> None:
    collector.watch_pauses()
    collector.watch_pauses()
    before = _pauses(2)
    gc.collect()
    assert _pauses(2) == before + 1
    assert sum(callback is collector._TIMER for callback in gc.callbacks) == 1


def test_settle_freezes_the_survivors_so_a_full_collection_skips_them(unfrozen: None) -> None:
    kept = [[index] for index in range(1000)]  # tracked objects that survive
    frozen = collector.settle()
    assert frozen >= len(kept)
    walked = {id(item) for item in gc.get_objects(generation=2)}
    assert not any(id(item) in walked for item in kept)  # in the permanent generation: never walked
