"""The lag's stages in `make bench` (bench/pair_ops.py): a histogram's quantile as its bucket's bound;
and the collector's pauses per operation."""

from collections import Counter as Tally

from bench.pair_ops import bound_ms, gc_note, quantiles


def test_a_quantile_is_the_bound_of_the_bucket_it_falls_in() -> None:
    counts = Tally({"0.005": 10, "0.01": 90, "0.05": 98, "0.1": 100, "+Inf": 100})
    assert (bound_ms(counts, 0.5), bound_ms(counts, 0.98), bound_ms(counts, 0.99)) == (
        "<= 10 ms",
        "<= 50 ms",
        "<= 100 ms",
    )


def test_a_quantile_beyond_the_last_bound_says_so() -> None:
    assert bound_ms(Tally({"0.01": 50, "10.0": 98, "+Inf": 100}), 0.99) == "> 10000 ms"


def test_the_bounds_are_ordered_as_numbers_not_as_text() -> None:
    counts = Tally({"10.0": 100, "2.5": 100, "+Inf": 100, "0.5": 1})
    assert bound_ms(counts, 0.5) == "<= 2500 ms"


def test_no_event_gives_no_bound() -> None:
    assert bound_ms(Tally(), 0.99) == "-"
    assert bound_ms(Tally({"0.01": 0, "+Inf": 0}), 0.99) == "-"


def test_the_difference_of_two_scrapes_counts_only_what_came_between() -> None:
    before = Tally({"0.01": 1000, "0.1": 1000, "+Inf": 1000})
    after = Tally({"0.01": 1000, "0.1": 1100, "+Inf": 1100})
    assert bound_ms(after - before, 0.5) == "<= 100 ms"


def test_the_quantiles_say_where_the_median_the_p90_and_the_p99_fall_of_how_many() -> None:
    counts = Tally({"0.025": 50, "0.05": 90, "0.25": 100, "+Inf": 100})
    assert quantiles(counts) == "p50 <= 25 ms, p90 <= 50 ms, p99 <= 250 ms (n 100)"


def test_the_collectors_pauses_are_given_per_operation_for_each_service() -> None:
    before, after = {"command": 1.0, "query": 2.0}, {"command": 1.05, "query": 2.25}
    assert gc_note(before, after, 1000) == "gc ms/op: command 0.050, query 0.250"
    assert gc_note(before, before, 0) == "gc ms/op: command 0.000, query 0.000"
