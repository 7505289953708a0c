#!/usr/bin/env bash
# `make run`: servers (see servers.sh), then both services in the foreground, supervised.
# - Ctrl-C or SIGTERM stops both cleanly (each finishes its in-flight messages); exit status 0.
# - A service that exits on its own after running at least CQRS_RUN_MIN_UPTIME seconds (default 10;
#   a crash, or the broker watchdog giving up) is started again a second later, as a container
#   runtime or systemd would.
# - One that exits sooner failed to start (bad settings, a queue to delete): starting it again would
#   fail the same way, so both stop and the run exits with its status.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=servers.sh
. infra/servers.sh
# --inexact: what another verb added (make bench's group) stays; tests run make run beside them.
uv sync --frozen --quiet --inexact
# The supervisor (restarts, signals) is Python: portable, and immune to an inherited signal mask.
exec .venv/bin/python infra/supervise.py .venv/bin/command-service .venv/bin/query-service
