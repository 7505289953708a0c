#!/usr/bin/env bash
# Makes sure a Docker engine answers, for `make test-containers` on a machine of this project's kind,
# which has none installed and reaches no image registry. Where `docker info` already answers, nothing is
# done. Otherwise (root only): Debian's docker.io, docker-compose (v1.29) and debootstrap are installed if
# missing, and the engine is started as `dockerd --iptables=false`: no NAT, so containers reach only each
# other and the ports published on 127.0.0.1. Its log: $STATE/log/dockerd.log. It writes
# $STATE/run/dockerd.pid only when it started the engine, so that `engine.sh --stop` stops only that.
set -euo pipefail
STATE=${CQRS_STATE_DIR:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/cqrs-pair}
PIDFILE=$STATE/run/dockerd.pid
say() { printf '==> engine: %s\n' "$*"; }
die() { printf '==> engine: ERROR: %s\n' "$*" >&2; exit 1; }

if [ "${1:-}" = --stop ]; then
  pid=$(cat "$PIDFILE" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    say "stopped the engine this script started (pid $pid)"
  fi
  rm -f "$PIDFILE"
  exit 0
fi

if docker info >/dev/null 2>&1; then
  say "a Docker engine answers"
  exit 0
fi
[ "$(id -u)" = 0 ] || die "no Docker engine answers; start one (installing it here needs root)"
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || missing+=(docker-compose)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]} (Debian)"
  t0=$SECONDS
  export DEBIAN_FRONTEND=noninteractive
  apt-get -qq update </dev/null
  apt-get -qq install -y --no-install-recommends "${missing[@]}" </dev/null >/dev/null
  say "installed in $((SECONDS - t0))s"
fi
if ! docker info >/dev/null 2>&1; then
  mkdir -p "$STATE/log" "$STATE/run"
  say "starting dockerd --iptables=false (log in $STATE/log/dockerd.log)"
  nohup dockerd --iptables=false >"$STATE/log/dockerd.log" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { tail -n 20 "$STATE/log/dockerd.log" >&2; die "dockerd did not answer within 30 s"; }
fi
say "ready: $(docker version --format 'engine {{.Server.Version}}')"
