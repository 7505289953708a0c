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


def configure(service: str, level: str, log_format: LogFormat = "auto") -> None:
    handler = logging.StreamHandler(sys.stderr)
    as_json = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    handler.setFormatter(JsonFormatter(service) if as_json else TextFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The libraries are chatty at INFO; with DEBUG, their INFO (reconnects, for one) shows too.
    libraries = logging.INFO if root.level <= logging.DEBUG else max(logging.WARNING, root.level)
    for noisy in ("aio_pika", "aiormq", "pymongo", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(libraries)
