"""The query service's own metrics, beside the shared ones (cqrs_shared.observability.metrics)."""

from datetime import UTC, datetime

from prometheus_client import Counter, Gauge, Histogram

from cqrs_shared.observability.metrics import LATENCY_BUCKETS

LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

PROJECTION_LAG = Histogram(
    "cqrs_projection_lag_seconds",
    "Time from an event's commit to its projection applied",
    buckets=LAG_BUCKETS,
)
LAST_LAG = Gauge("cqrs_projection_last_lag_seconds", "Commit-to-applied time of the last event applied")
LAG_EVENTS = Gauge("cqrs_projection_lag_events", "Events waiting in the event queue (not yet projected)")
PROJECTION_BATCHES = Histogram(
    "cqrs_projection_batch_events",
    "Events of one owner applied together live (they queued while it was busy): in one batch "
    "(together), or one by one where the batch did not apply whole (one_by_one)",
    ["result"],
    buckets=(2, 3, 5, 10, 20, 50, 100),
)
GAP_REPAIRS = Counter(
    "cqrs_gap_repairs_total", "Gaps in a stream filled from the command side, by result", ["result"]
)
CONSISTENCY_WAITS = Counter(
    "cqrs_consistency_waits_total",
    "Queries that asked for a version or token: already there (immediate), there after a wait "
    "(waited), or answered view_behind",
    ["result"],
)
CONSISTENCY_WAIT = Histogram(
    "cqrs_consistency_wait_seconds",
    "How long a query waited for the view to reach its token",
    buckets=LATENCY_BUCKETS,
)

VIEW_READS = Counter(
    "cqrs_view_reads_total",
    "Reads of a view by id (GetCustomer, GetAccount): from the projecting process's cache (hit), "
    "from the database (miss), or from the database by a process that does not project (uncached)",
    ["source"],
)
VIEW_HIT, VIEW_MISS, VIEW_UNCACHED = (VIEW_READS.labels(s) for s in ("hit", "miss", "uncached"))

_last_lag = [0.0]


def applied(occurred_at: datetime) -> None:
    """An event that occurred at ``occurred_at`` is now in the view."""
    lag = (datetime.now(UTC) - occurred_at).total_seconds()
    PROJECTION_LAG.observe(lag)
    LAST_LAG.set(lag)
    _last_lag[0] = lag


def last_lag() -> float:
    return _last_lag[0]


CHECKPOINT = Gauge(
    "cqrs_read_model_checkpoint",
    "The global position up to which this process knows every event is applied to the read model",
)
CATCH_UP_HEAD = Gauge(
    "cqrs_catch_up_head", "The event store's last position when this process last read it catching up"
)
CATCH_UP_EVENTS = Counter(
    "cqrs_catch_up_events_total", "Events read from the command side's ReadAll and applied, catching up"
)
