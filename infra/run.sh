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
# Started with SIGINT or SIGTERM blocked or ignored (a CI harness, nohup, a script's background job), this
# shell could not trap them: start once more with both deliverable (see deliverable.py).
if [ "${CQRS_RUN_SIGNALS:-}" != deliverable ] && command -v python3 >/dev/null; then
  CQRS_RUN_SIGNALS=deliverable exec python3 infra/deliverable.py bash infra/run.sh "$@"
fi
# shellcheck source=servers.sh
. infra/servers.sh
uv sync --frozen --quiet

min_uptime=${CQRS_RUN_MIN_UPTIME:-10}
declare -A pid started
launch() {
  ".venv/bin/$1" &
  pid[$1]=$!
  started[$1]=$SECONDS
}
stopping=0
stop() {
  stopping=1
  kill -TERM "${pid[@]}" 2>/dev/null || true
}
trap stop INT TERM

launch command-service
launch query-service
status=0
while [ "$stopping" = 0 ]; do
  exited="" code=0
  wait -n -p exited "${pid[@]}" || code=$?
  # Woken by a signal (stop() ran) rather than by a service exiting: leave the loop.
  if [ "$stopping" = 1 ] || [ -z "$exited" ]; then
    continue
  fi
  for name in "${!pid[@]}"; do
    [ "${pid[$name]}" != "$exited" ] || break
  done
  if [ $((SECONDS - started[$name])) -ge "$min_uptime" ]; then
    echo "==> run: $name exited with status $code; starting it again" >&2
    sleep 1
    launch "$name"
    continue
  fi
  echo "==> run: $name exited with status $code within ${min_uptime}s of starting; stopping" >&2
  status=$((code == 0 ? 1 : code))
  break
done
stop
wait "${pid[@]}" 2>/dev/null || true
exit "$status"
