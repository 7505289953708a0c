#!/usr/bin/env bash
# `make bench`: the local servers (provision.sh starts what is missing), the benchmark's own extras
# (FastStream, matplotlib, py-spy: uv's `bench` group), then tests/bench with the arguments given
# (`make bench BENCH_ARGS="--seconds 2 --customers 2000"`; `--help` lists them).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash infra/provision.sh
set -a
# shellcheck source=local.env
. infra/local.env
set +a
uv sync --frozen --quiet --group bench
exec uv run --frozen --group bench python -m bench "$@"
