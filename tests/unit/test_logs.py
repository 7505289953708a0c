"""Log lines through a buffer (cqrs_shared/observability/logs.py): WARNING at once, the rest soon."""

import logging
import os
import time

from cqrs_shared.observability.logs import BufferedHandler


def _read_now(fd: int) -> bytes:
    os.set_blocking(fd, False)
    try:
        return os.read(fd, 65536)
    except BlockingIOError:
        return b""


def test_lines_below_warning_are_written_together_within_the_flush_interval() -> None:
    read, write = os.pipe()
    handler = BufferedHandler(write, every=0.05)
    log = logging.getLogger("test.buffered")
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.INFO)
    try:
        log.warning("at once")
        assert _read_now(read) == b"at once\n"
        log.info("later 1")
        log.info("later 2")
        assert _read_now(read) == b""  # still in the buffer
        time.sleep(0.3)
        assert _read_now(read) == b"later 1\nlater 2\n"
    finally:
        log.removeHandler(handler)
        handler.close()
        os.close(read)
        os.close(write)
