#!/usr/bin/env bash
# `make run`: servers (see servers.sh), then both services in the foreground.
# Ctrl-C or SIGTERM stops both cleanly (each finishes its in-flight messages); if one exits, so does the other.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=servers.sh
. infra/servers.sh
uv sync --frozen --quiet
.venv/bin/command-service &
command_pid=$!
.venv/bin/query-service &
query_pid=$!
stop() { kill -TERM "$command_pid" "$query_pid" 2>/dev/null || true; }
trap stop INT TERM
status=0
wait -n "$command_pid" "$query_pid" || status=$?
stop
wait "$command_pid" "$query_pid" 2>/dev/null || true
exit "$status"
