"""Logs: one JSON object a line for machines, or one readable line for people; never a secret.

configure("command", "INFO", "auto")        # JSON unless stderr is a terminal
with message_context(message_id=..., correlation_id=..., type=..., trace_id=...):
    log.info("...")                         # the line carries those four fields
"""

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Literal

from aiormq.exceptions import AMQPConnectionError

from cqrs_client.redaction import redact

LogFormat = Literal["auto", "json", "text"]
_context: contextvars.ContextVar[tuple[tuple[str, str], ...]] = contextvars.ContextVar(
    "cqrs_log_context", default=()
)
# Lines carry senders' text (dead-letter reasons, ids): cut before any pattern runs over them.
MAX_LINE_CHARS = 4000


def cut(text: str, limit: int = MAX_LINE_CHARS) -> str:
    """``text``, or its first ``limit`` characters and how many more there were."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit} more characters)"


@contextlib.contextmanager
def message_context(**fields: str | None) -> Iterator[None]:
    """Every line logged inside the block (in this task) carries ``fields``."""
    merged = dict(_context.get()) | {key: value for key, value in fields.items() if value}
    token = _context.set(tuple(merged.items()))
    try:
        yield
    finally:
        _context.reset(token)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "message": redact(cut(record.getMessage())),
            **{key: cut(value, 256) for key, value in _context.get()},
        }
        if record.exc_info:
            line["exception"] = redact(cut(self.formatException(record.exc_info), 4 * MAX_LINE_CHARS))
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__(f"%(asctime)s {service:<7} %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        context = " ".join(f"{key}={cut(value, 256)}" for key, value in _context.get())
        text = cut(super().format(record), 4 * MAX_LINE_CHARS)
        return redact(f"{text} [{context}]" if context else text)


class BrokerLossAsWarning(logging.Filter):
    """aiormq logs a connection the broker closed ("Unexpected connection close from remote": a node
    stopping, or a 541 on the probes' connection) at ERROR; so does aio-pika, for each robust channel
    whose reopening failed with it ("Callback <OneShotCallback: cb=<bound method
    RobustChannel._on_close …> error"), and asyncio, for the futures aiormq made for a publish or an
    ack the loss ended ("Future exception was never retrieved", a ConnectionClosed). The robust
    connection then restores every channel itself: about a dozen ERROR lines per service at each node
    loss of the cluster test, every one recovered. They are warnings here; a connection that does not
    come back within CQRS_BROKER_GRACE stops the service, and that is logged at ERROR
    (messaging/watchdog.py, runtime/lifecycle.py)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR and _recovered_by_reconnect(record):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def _recovered_by_reconnect(record: logging.LogRecord) -> bool:
    template = str(record.msg)
    if record.name == "asyncio":  # aiormq's own futures of a publish or ack that the loss ended
        lost = record.exc_info[1] if record.exc_info else None
        return template.startswith("Future exception was never retrieved") and isinstance(
            lost, AMQPConnectionError
        )
    if record.name == "aiormq.connection":
        return template.startswith("Unexpected connection close from remote")
    if record.name == "aio_pika.tools" and template.startswith("Callback %r error"):
        return isinstance(record.args, tuple) and "RobustChannel._on_close" in repr(record.args[:1])
    return False


def configure(service: str, level: str, log_format: LogFormat = "auto") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(BrokerLossAsWarning())
    as_json = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    handler.setFormatter(JsonFormatter(service) if as_json else TextFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The libraries are chatty at INFO; with DEBUG, their INFO (reconnects, for one) shows too.
    libraries = logging.INFO if root.level <= logging.DEBUG else max(logging.WARNING, root.level)
    for noisy in ("aio_pika", "aiormq", "pymongo", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(libraries)
