#!/usr/bin/env bash
# Stops what infra/provision.sh started: FerretDB (pid file), RabbitMQ (init script), PostgreSQL
# (pg_ctlcluster). Idempotent. `--purge` also removes the state dir (FerretDB binary, data, logs);
# the Debian packages, the PostgreSQL cluster and RabbitMQ's data stay.
set -euo pipefail

STATE=${CQRS_STATE_DIR:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/cqrs-pair}
# The newest Debian PostgreSQL server installed (15 on Debian 12), as in provision.sh.
PG_VERSION=$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/postgres' 2>/dev/null | cut -d/ -f5 | sort -n | tail -n 1 || true)
purge=0
case "${1:-}" in
  "") ;;
  --purge) purge=1 ;;
  *) echo "usage: $0 [--purge]" >&2; exit 2 ;;
esac

say() { printf '==> %s\n' "$*"; }
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }

# --- FerretDB ------------------------------------------------------------------------------------------
pidfile=$STATE/run/ferretdb.pid
pid=$(cat "$pidfile" 2>/dev/null || true)
if [ -n "$pid" ] && alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = cqrs-ferretdb ]; then
  say "ferretdb: stopping (pid $pid)"
  kill -TERM "$pid"
  for _ in $(seq 100); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then
    say "ferretdb: still running after 10s, killing"
    kill -KILL "$pid" 2>/dev/null || true
  fi
else
  say "ferretdb: not running"
fi
rm -f "$pidfile"

# --- RabbitMQ ------------------------------------------------------------------------------------------
rabbit_pid=$(cat /var/run/rabbitmq/pid 2>/dev/null || true)
if [ -x /etc/init.d/rabbitmq-server ] && { alive "$rabbit_pid" || timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/5672' 2>/dev/null; }; then
  say "rabbitmq: stopping"
  ERL_EPMD_ADDRESS=127.0.0.1 timeout 120 /etc/init.d/rabbitmq-server stop >/dev/null 2>&1 ||
    say "rabbitmq: init script stop failed (see /var/log/rabbitmq/shutdown_err)"
else
  say "rabbitmq: not running"
fi
# epmd was started by the Erlang node; stop it too once no node is registered with it.
if command -v epmd >/dev/null && epmd -names >/dev/null 2>&1 && ! epmd -names 2>/dev/null | grep -q '^name '; then
  epmd -kill >/dev/null 2>&1 || true
fi

# --- PostgreSQL ----------------------------------------------------------------------------------------
if [ -n "$PG_VERSION" ] && command -v pg_lsclusters >/dev/null &&
  [ "$(pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" '$1 == v && $2 == "main" {print $4}')" = online ]; then
  say "postgresql: stopping"
  pg_ctlcluster "$PG_VERSION" main stop
else
  say "postgresql: not running"
fi

if [ "$purge" = 1 ] && [ -d "$STATE" ]; then
  say "removing $STATE"
  rm -rf "$STATE"
fi
