"""The command service's own metrics, beside the shared ones (cqrs_shared.observability.metrics)."""

from prometheus_client import Counter, Gauge, Histogram

from cqrs_shared.observability.metrics import LATENCY_BUCKETS

OUTBOX_BACKLOG = Gauge("cqrs_outbox_backlog_events", "Committed events the relay has not published yet")
OUTBOX_OLDEST_AGE = Gauge(
    "cqrs_outbox_oldest_age_seconds", "Age of the oldest committed event not yet published (0 when none)"
)
COMMIT_TO_PUBLISH = Histogram(
    "cqrs_commit_to_publish_seconds",
    "Time from an event's commit to the broker's confirm of its publish",
    buckets=LATENCY_BUCKETS,
)
COMMANDS_TOGETHER = Histogram(
    "cqrs_commands_together",
    "Commands of one stream that queued while it was busy, committed in one statement (together), "
    "or one by one where they could not go together (one_by_one)",
    ["result"],
    buckets=(2, 3, 5, 10, 20, 64),
)
RELAY_RETURNED = Counter(
    "cqrs_relay_returned_events_total",
    "Events the broker returned unrouted (no queue bound for their routing key); each stays unpublished "
    "and goes out again later",
)
# Label values: relay.HoldReason. "unreadable" above 0 needs an operator: a stored event row that does
# not read as an event (corrupt, or a schema this code does not know) stops its stream until it does.
RELAY_HELD_STREAMS = Gauge(
    "cqrs_relay_held_streams",
    "Streams the relay holds back, by reason: returned (its next event was unroutable), unreadable "
    "(its next event's row cannot be read)",
    ["reason"],
)
# Above 0 needs an operator: a transfer unfinished past CQRS_TRANSFER_BUDGET (process/runner.py logs
# each once). Its step is still given again, with backoff, until it moves.
TRANSFERS_STUCK = Gauge(
    "cqrs_transfers_stuck", "Transfers unfinished past their budget (CQRS_TRANSFER_BUDGET seconds)"
)
