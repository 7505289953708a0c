"""What the projector knows of a document it wrote (read_model/store.py): the $set paths applied to
what it had, and values as a read gives them back."""

from datetime import UTC, datetime, timedelta, timezone

from query_service.read_model.store import nested, stored, with_fields


def test_dotted_paths_set_nested_fields_and_leave_the_original_alone() -> None:
    before = {"_id": "c", "accounts": {"a": {"balance": "1.00", "version": 1}}, "name": "Ada"}
    after = with_fields(before, {"accounts.a.balance": "2.00", "accounts.a.version": 2, "accounts.b.v": 1})
    assert after == {
        "_id": "c",
        "accounts": {"a": {"balance": "2.00", "version": 2}, "b": {"v": 1}},
        "name": "Ada",
    }
    assert before["accounts"] == {"a": {"balance": "1.00", "version": 1}}


def test_an_insert_is_its_paths_as_nested_documents() -> None:
    assert nested({"a.b": 1, "a.c": 2, "d": 3}) == {"a": {"b": 1, "c": 2}, "d": 3}


def test_times_come_back_in_utc_to_the_millisecond() -> None:
    at = datetime(2026, 12, 7, 1, 2, 3, 456789, tzinfo=timezone(timedelta(hours=2)))
    naive = datetime(2026, 12, 7, 1, 2, 3, 999999)
    assert stored({"t": at, "n": naive, "s": "x"}) == {
        "t": datetime(2026, 12, 6, 23, 2, 3, 456000, tzinfo=UTC),
        "n": datetime(2026, 12, 7, 1, 2, 3, 999000, tzinfo=UTC),
        "s": "x",
    }
