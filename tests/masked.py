"""Start processes as a careless harness would: SIGINT and SIGTERM blocked, SIGINT ignored.

Both are inherited across exec. CI once started the suite that way and `make run` then never saw the
test's Ctrl-C (issue 6); every process the tests start gets this state, so nothing depends on it.
"""

import signal

STOPPING = {signal.SIGINT, signal.SIGTERM}


def masked() -> None:
    """A ``preexec_fn``: runs in the child between fork and exec."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, STOPPING)
