#!/usr/bin/env bash
# Builds the stand-in images that check the container path on a machine that reaches no image registry:
#   cqrs-standin/python:3.11-bookworm   debootstrap --variant=minbase bookworm with python3, python3-venv
#                                       and ca-certificates, plus this machine's CA bundle (containers
#                                       reach PyPI only with it): stands in for python:3.11-slim-bookworm
#   cqrs-standin/postgres, cqrs-standin/rabbitmq, cqrs-standin/mongodb   (standins/*/Dockerfile)
# Images already built are kept; --rebuild builds them all again. Needs root (debootstrap), a Docker
# engine (engine.sh) and Debian's mirror (CQRS_DEBIAN_MIRROR, default http://deb.debian.org/debian).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${CQRS_STATE_DIR:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/cqrs-pair}
MIRROR=${CQRS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE=cqrs-standin/python:3.11-bookworm
CA_BUNDLE=${CQRS_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
say() { printf '==> standins: %s\n' "$*"; }
die() { printf '==> standins: ERROR: %s\n' "$*" >&2; exit 1; }
have() { [ "${1:-}" != --rebuild ] && docker image inspect "$2" >/dev/null 2>&1; }

base_image() {
  local root=$STATE/standin-root t0=$SECONDS
  command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"
  rm -rf "$root"
  mkdir -p "$root"
  say "debootstrap bookworm into $root (log in $STATE/log/debootstrap.log)"
  mkdir -p "$STATE/log"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$root" "$MIRROR" \
    >"$STATE/log/debootstrap.log" 2>&1 || { tail -n 20 "$STATE/log/debootstrap.log" >&2; die "debootstrap failed"; }
  cp "$CA_BUNDLE" "$root/etc/ssl/certs/ca-certificates.crt"
  echo "deb $MIRROR bookworm main" >"$root/etc/apt/sources.list"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | docker import \
    --change "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt PIP_CERT=/etc/ssl/certs/ca-certificates.crt" \
    --change 'CMD ["python3"]' - "$BASE" >/dev/null
  rm -rf "$root"
  say "$BASE built in $((SECONDS - t0))s"
}

ferretdb_binary() {
  local bin=$STATE/bin/cqrs-ferretdb src=$HERE/../ferretdb
  # Built again when any of its files is newer than the binary.
  if [ ! -x "$bin" ] || [ -n "$(find "$src" -type f -newer "$bin" | head -n 1)" ]; then
    say "building $bin"
    mkdir -p "$STATE/bin"
    (cd "$src" && go build -trimpath -o "$bin" .) </dev/null
  fi
  cp "$bin" "$HERE/standins/mongodb/cqrs-ferretdb"
}

server_image() {
  local name=$1 t0=$SECONDS
  [ "$name" != mongodb ] || ferretdb_binary
  docker build -q --network host --build-arg "BASE_IMAGE=$BASE" -t "cqrs-standin/$name" \
    "$HERE/standins/$name" >/dev/null 2>"$STATE/log/standin-$name.log" ||
    { tail -n 20 "$STATE/log/standin-$name.log" >&2; die "cqrs-standin/$name: docker build failed"; }
  rm -f "$HERE/standins/mongodb/cqrs-ferretdb"
  say "cqrs-standin/$name built in $((SECONDS - t0))s"
}

mkdir -p "$STATE/log"
have "${1:-}" "$BASE" || base_image
for server in postgres rabbitmq mongodb; do
  have "${1:-}" "cqrs-standin/$server" || server_image "$server"
done
say "ready: $(docker images --format '{{.Repository}}:{{.Tag}} {{.Size}}' 'cqrs-standin/*' | tr '\n' ' ')"
