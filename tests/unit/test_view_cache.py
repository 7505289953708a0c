"""The projecting process's view cache (query_service/read_model/cache.py): what it keeps and refuses."""

import time
from collections.abc import Callable

from query_service.read_model.cache import MAX_AGE_SECONDS, REMEMBERED, ViewCache


def projecting(
    size: int = 10,
    remembered: int = REMEMBERED,
    max_age: float = MAX_AGE_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> ViewCache[str]:
    cache: ViewCache[str] = ViewCache(size, remembered, max_age, clock)
    cache.enable()
    return cache


def test_a_view_read_and_kept_is_served_until_its_document_changes() -> None:
    cache = projecting()
    assert cache.fill("ada", "v1", cache.ticket())
    assert cache.get("ada") == "v1"
    cache.changed("ada")
    assert cache.get("ada") is None
    assert (cache.hits, cache.misses) == (1, 1)


def test_a_read_that_raced_a_change_is_not_kept() -> None:
    cache = projecting()
    ticket = cache.ticket()  # the read begins
    cache.changed("ada")  # the projector writes meanwhile
    assert not cache.fill("ada", "old", ticket)
    assert cache.get("ada") is None
    assert cache.fill("ada", "new", cache.ticket())


def test_a_change_to_another_document_does_not_refuse_the_fill() -> None:
    cache = projecting()
    ticket = cache.ticket()
    cache.changed("bob")
    assert cache.fill("ada", "v1", ticket)


def test_when_changes_are_forgotten_an_older_read_is_refused() -> None:
    cache = projecting(remembered=2)
    ticket = cache.ticket()
    for key in ("a", "b", "c"):  # "ada"'s change could be among those no longer remembered
        cache.changed(key)
    assert not cache.fill("ada", "maybe old", ticket)


def test_a_process_that_does_not_project_keeps_nothing() -> None:
    cache: ViewCache[str] = ViewCache(10)
    assert not cache.fill("ada", "v1", cache.ticket())
    assert cache.get("ada") is None


def test_reads_begun_before_projecting_began_fill_nothing() -> None:
    cache: ViewCache[str] = ViewCache(10)
    ticket = cache.ticket()  # read while another replica projected
    cache.enable()
    assert not cache.fill("ada", "maybe old", ticket)


def test_losing_the_event_channel_forgets_everything() -> None:
    cache = projecting()
    cache.fill("ada", "v1", cache.ticket())
    cache.disable()
    assert cache.get("ada") is None
    cache.enable()
    assert cache.get("ada") is None


def test_the_least_recently_used_view_goes_first() -> None:
    cache = projecting(size=2)
    for key in ("a", "b"):
        cache.fill(key, key, cache.ticket())
    cache.get("a")
    cache.fill("c", "c", cache.ticket())
    assert [cache.get(k) for k in ("a", "b", "c")] == ["a", None, "c"]


def test_a_view_older_than_its_max_age_is_read_again() -> None:
    now = [0.0]
    cache = projecting(max_age=60, clock=lambda: now[0])
    cache.fill("ada", "v1", cache.ticket())
    now[0] = 61
    assert cache.get("ada") is None


def test_size_zero_turns_it_off() -> None:
    cache = projecting(size=0)
    assert not cache.enabled
    assert not cache.fill("ada", "v1", cache.ticket())


def test_while_a_document_is_written_its_view_is_neither_served_nor_kept() -> None:
    cache = projecting()
    cache.fill("ada", "v4", cache.ticket())
    with cache.writing("ada"):
        # The write may already be visible to other connections: only the database may answer.
        assert cache.get("ada") is None
        assert not cache.fill("ada", "v4 or v5", cache.ticket())
        ticket = cache.ticket()
    assert not cache.fill("ada", "read during the write", ticket)
    assert cache.fill("ada", "v5", cache.ticket())
    assert cache.get("ada") == "v5"


def test_a_view_the_writer_tells_is_kept_once_its_write_is_done() -> None:
    cache = projecting()
    with cache.writing("ada") as rewrite:
        assert rewrite.before is None
        rewrite.after = "v1"
        assert cache.get("ada") is None  # not while the write is on the wire
    assert cache.get("ada") == "v1"


def test_a_write_sees_the_view_kept_before_it_and_keeps_its_age() -> None:
    now = [0.0]
    cache = projecting(max_age=60, clock=lambda: now[0])
    cache.fill("ada", "v1", cache.ticket())
    now[0] = 50
    with cache.writing("ada") as rewrite:
        assert rewrite.before == "v1"
        rewrite.after = "v2"
    assert cache.get("ada") == "v2"
    now[0] = 61  # the first read's age: an edit no projector announced shows as before
    assert cache.get("ada") is None


def test_a_view_too_old_is_not_handed_to_the_writer() -> None:
    now = [0.0]
    cache = projecting(max_age=60, clock=lambda: now[0])
    cache.fill("ada", "v1", cache.ticket())
    now[0] = 61
    with cache.writing("ada") as rewrite:
        assert rewrite.before is None


def test_a_write_across_losing_the_channel_keeps_nothing() -> None:
    cache = projecting()
    with cache.writing("ada") as rewrite:
        rewrite.after = "v1"
        cache.disable()
        cache.enable()  # another replica may have written meanwhile
    assert cache.get("ada") is None


def test_a_write_that_failed_keeps_nothing() -> None:
    cache = projecting()
    cache.fill("ada", "v1", cache.ticket())
    try:
        with cache.writing("ada"):
            raise ConnectionError
    except ConnectionError:
        pass
    assert cache.get("ada") is None


def test_a_process_that_does_not_project_keeps_no_written_view() -> None:
    cache: ViewCache[str] = ViewCache(10)
    with cache.writing("ada") as rewrite:
        rewrite.after = "v1"
    cache.enable()
    assert cache.get("ada") is None
