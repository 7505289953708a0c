#!/usr/bin/env bash
# Prometheus's own checker for deploy/observability (rules, scrape config, alert scenarios): promtool
# from Debian's `prometheus` package, unpacked into the state dir's bin/ (no daemon installed or
# started). `make test` runs it first; tests/e2e/test_observability_kit.py then finds it on PATH.
# Prints the directory to put on PATH.
set -euo pipefail
BIN="${CQRS_STATE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cqrs-pair}/bin"
if [ ! -x "$BIN/promtool" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "==> promtool: unpacking Debian's prometheus package" >&2
  ( cd "$work" && apt-get download prometheus >/dev/null 2>&1 ) ||
    { apt-get update -qq >/dev/null && ( cd "$work" && apt-get download prometheus >/dev/null ); }
  dpkg-deb -x "$work"/prometheus_*.deb "$work/root"
  mkdir -p "$BIN"
  install -m 0755 "$work/root/usr/bin/promtool" "$BIN/promtool"
fi
echo "$BIN"
