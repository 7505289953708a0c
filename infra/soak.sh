#!/usr/bin/env bash
# `make soak`: the local servers (provision.sh starts what is missing), the benchmark's extras (uv's
# `bench` group: matplotlib), then bench/soak.py with the arguments given for SOAK_MINUTES (30)
# (`make soak SOAK_MINUTES=5 SOAK_ARGS="--rate 150"`; `--help` lists them). Exits 1 if a check fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash infra/provision.sh
set -a
# shellcheck source=local.env
. infra/local.env
set +a
uv sync --frozen --quiet --group bench
exec uv run --frozen --group bench python -m bench.soak "$@"
