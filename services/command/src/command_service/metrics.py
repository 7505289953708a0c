"""The command service's own metrics, beside the shared ones (cqrs_shared.metrics)."""

from prometheus_client import Gauge, Histogram

from cqrs_shared.metrics import LATENCY_BUCKETS

OUTBOX_BACKLOG = Gauge("cqrs_outbox_backlog_events", "Committed events the relay has not published yet")
OUTBOX_OLDEST_AGE = Gauge(
    "cqrs_outbox_oldest_age_seconds", "Age of the oldest committed event not yet published (0 when none)"
)
COMMIT_TO_PUBLISH = Histogram(
    "cqrs_commit_to_publish_seconds",
    "Time from an event's commit to the broker's confirm of its publish",
    buckets=LATENCY_BUCKETS,
)
