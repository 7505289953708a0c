"""A broker connection lost and restored is a warning, not an error (observability/logs.py): the
records aiormq, aio-pika and asyncio write for it, with their own format strings, and ones that stay ERROR."""

import logging
from collections.abc import Iterator

import pytest
from aiormq.exceptions import ConnectionClosed

from cqrs_shared.observability.logs import BrokerLossAsWarning

LIBRARIES = ("aiormq.connection", "aio_pika.tools", "asyncio")


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.addFilter(BrokerLossAsWarning())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class RobustChannel:
    async def _on_close(self) -> None:
        return None


class OneShotCallback:
    """Named and shown as aio-pika's (aio_pika/tools.py), around a robust channel's close callback."""

    def __init__(self, callback: object) -> None:
        self.callback = callback

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: cb={self.callback!r}>"


@pytest.fixture
def kept() -> Iterator[Kept]:
    handler = Kept()
    for name in LIBRARIES:
        logging.getLogger(name).addHandler(handler)
    yield handler
    for name in LIBRARIES:
        logging.getLogger(name).removeHandler(handler)


def test_a_connection_the_broker_closed_and_its_channels_are_warnings(kept: Kept) -> None:
    # aiormq/connection.py, Connection.__handle_close
    logging.getLogger("aiormq.connection").exception(
        'Unexpected connection close from remote "%s", Connection.Close(reply_code=%r, reply_text=%r)',
        "amqp://cqrs-query:******@127.0.0.1:5701/cqrs",
        320,
        "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'",
    )
    # aio_pika/tools.py, OneShotCallback.__task_inner
    logging.getLogger("aio_pika.tools").error(
        "Callback %r error: %s: %s",
        OneShotCallback(RobustChannel()._on_close),
        "RuntimeError",
        "<Connection: amqp://cqrs-query:******@127.0.0.1:5701/cqrs> closed",
    )
    # asyncio's default exception handler, for a future aiormq made (base_events.py)
    lost = ConnectionClosed(
        320, "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"
    )
    logging.getLogger("asyncio").error(
        "Future exception was never retrieved\nfuture: <Future finished exception=%r>",
        lost,
        exc_info=(type(lost), lost, None),
    )
    assert [(r.levelno, r.levelname) for r in kept.records] == [(logging.WARNING, "WARNING")] * 3


def test_other_library_errors_stay_errors(kept: Kept) -> None:
    logging.getLogger("aiormq.connection").error("Got frame for closed channel %d: %r", 3, "frame")
    logging.getLogger("aio_pika.tools").error("Callback %r error: %s: %s", OneShotCallback(print), "E", "x")
    bug = ValueError("ours")
    logging.getLogger("asyncio").error(
        "Future exception was never retrieved", exc_info=(ValueError, bug, None)
    )
    assert [r.levelname for r in kept.records] == ["ERROR", "ERROR", "ERROR"]
