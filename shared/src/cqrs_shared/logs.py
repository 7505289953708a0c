"""Logs: one JSON object a line for machines, or one readable line for people; never a secret.

configure("command", "INFO", "auto")        # JSON unless stderr is a terminal
with message_context(message_id=..., correlation_id=..., type=..., trace_id=...):
    log.info("...")                         # the line carries those four fields
"""

import contextlib
import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Literal

LogFormat = Literal["auto", "json", "text"]
_context: contextvars.ContextVar[tuple[tuple[str, str], ...]] = contextvars.ContextVar(
    "cqrs_log_context", default=()
)
# user:password@ in any URL (amqp, postgresql, mongodb, http): the password goes, the rest stays. Up to
# the last @ of the word: a password with an unencoded @ in it must not leave its tail behind.
_PASSWORD_IN_URL = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)\S*@", re.IGNORECASE)
# password=... as a DSN parameter (postgresql://host/db?password=..., libpq's "password=... host=...").
_PASSWORD_PARAMETER = re.compile(r"(\bpassword=)(?:'[^']*'|[^&\s'\"]+)", re.IGNORECASE)


def redact(text: str) -> str:
    """``amqp://user:secret@host`` -> ``amqp://user:***@host``, wherever it stands in ``text``."""
    return _PASSWORD_PARAMETER.sub(r"\1***", _PASSWORD_IN_URL.sub(r"\1***@", text))


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
            "message": redact(record.getMessage()),
            **dict(_context.get()),
        }
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__(f"%(asctime)s {service:<7} %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        context = " ".join(f"{key}={value}" for key, value in _context.get())
        text = super().format(record)
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
