"""The metrics every service exports (Prometheus conventions); each service adds its own beside them.

Label values are bounded: message types come from the contracts (anything else is "other"), codes
from ErrorCode, queues from messaging.topology.
"""

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

MESSAGES = Counter(
    "cqrs_messages_handled_total",
    "Messages handled, by queue, type and outcome (accepted, rejected, ok, error, applied, "
    "dead_lettered, retried, requeued); code is the error code where there is one",
    ["queue", "type", "outcome", "code"],
)
HANDLING = Histogram(
    "cqrs_message_handling_seconds",
    "Time from a message's arrival to its settlement, by queue and type",
    ["queue", "type"],
    buckets=LATENCY_BUCKETS,
)
DEAD_LETTERS = Counter(
    "cqrs_dead_letters_total", "Messages put in a dead-letter queue, by queue and reason", ["queue", "reason"]
)
REQUEUES_EXHAUSTED = Counter(
    "cqrs_requeue_budget_exhausted_total",
    "Messages whose transient failures used up their requeues and went on to the retry queues, by queue",
    ["queue"],
)
BROKER_CONNECTED = Gauge(
    "cqrs_broker_connected", "1 while the consuming and the replies' broker connections work, else 0"
)
BROKER_CONNECTION_LOSSES = Counter(
    "cqrs_broker_connection_losses",
    "Times a broker connection was lost: consume (consumers, dead letters, the relay), replies, or "
    "probe (first replies to a node not yet seen: messaging/reply_path.py)",
    ["connection"],
)
REPLIES_DROPPED = Counter(
    "cqrs_replies_dropped",
    "Replies not sent: the broker failed on their direct reply-to address within 30 s (its node not "
    "running, or none: address_failing), or no probe could tell (probe_unavailable); the request is "
    "settled all the same (messaging/reply_path.py)",
    ["reason"],
)
# Set by probes.py at every /readyz and every scrape of /metrics, so that an alert on "not ready"
# sees the checks as of that scrape, also where nothing polls /readyz (`make run`, compose).
READY = Gauge("cqrs_ready", "1 while every readiness check passes (what /readyz answers 200 for), else 0")
