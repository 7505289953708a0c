"""Run a command with SIGINT and SIGTERM deliverable: unblocked, and at their default actions.

    python3 infra/deliverable.py bash infra/run.sh

A shell cannot trap a signal that was ignored when it started, and never sees one that stays blocked;
both are inherited across exec. A harness, `nohup`, or a script's background job can start `make run`
that way, and then Ctrl-C (or a test's SIGINT) would not stop it (issue 6: CI hung 60 s on a blocked
SIGINT). The supervisor resets both before it starts.
"""

import os
import signal
import sys

STOPPING = {signal.SIGINT, signal.SIGTERM}

if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPPING)
    for sig in STOPPING:
        signal.signal(sig, signal.SIG_DFL)
    os.execvp(sys.argv[1], sys.argv[1:])
