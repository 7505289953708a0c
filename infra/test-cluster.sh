#!/usr/bin/env bash
# `make test-cluster`: the pair on a three-node RabbitMQ cluster (infra/cluster.sh) with quorum queues
# and partitioned events: a node stopped and started under load, and two query replicas sharing four
# partitions, one killed under load (tests/cluster). The local PostgreSQL and FerretDB hold the data.
# Starts the local servers and the cluster if they are not running; stops and removes the cluster
# when done, unless CQRS_KEEP_CLUSTER=1. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=servers.sh
. infra/servers.sh
uv sync --frozen --quiet --inexact
started=$(date +%s)
bash infra/cluster.sh start
echo "==> cluster: up in $(($(date +%s) - started)) s"
if [ "${CQRS_KEEP_CLUSTER:-0}" != 1 ]; then
  trap 'bash infra/cluster.sh stop --purge' EXIT
fi
echo "==> tests: pytest -m cluster"
# -s: the tests print what they measured (recovery time, partitions per replica). No hypothesis
# plugin: no cluster test uses it, and its summary imports hypothesis at the session's end, where
# CPython 3.11.7 once failed in ast.parse ("AST constructor recursion depth mismatch") after both
# tests had passed.
uv run --frozen pytest -m cluster -s -p no:cacheprovider -p no:hypothesispytest tests/cluster "$@"
