#!/usr/bin/env bash
# `make test-containers`: the container path, checked on this machine where no image registry is
# reachable. A Docker engine (engine.sh), stand-in images (standins.sh), then:
#   1. tests/containers: the compose stack built and started by `make up`'s script, driven with the
#      cqrs CLI, scaled, a container killed, brought down;
#   2. the testcontainers fixtures: the integration and e2e tests, their servers started by
#      testcontainers from the stand-in images.
# Afterwards it removes the images it built (CQRS_KEEP_IMAGES=1 keeps them) and stops an engine it
# started. Prints the image sizes and the times measured.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
t0=$SECONDS
STATE=${CQRS_STATE_DIR:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/cqrs-pair}
export CQRS_CHECK_REPORT=$STATE/log/containers-report.txt
mkdir -p "$STATE/log"
: >"$CQRS_CHECK_REPORT"

bash infra/containers/engine.sh
bash infra/containers/standins.sh
export CQRS_COMPOSE_FILES=docker-compose.yml:infra/containers/standins.yml
export CQRS_BASE_IMAGE=cqrs-standin/python:3.11-bookworm
export CQRS_RABBITMQ_IMAGE=cqrs-standin/rabbitmq CQRS_POSTGRES_IMAGE=cqrs-standin/postgres
export CQRS_MONGODB_IMAGE=cqrs-standin/mongodb
export CQRS_COMMAND_IMAGE=cqrs-check/command-service CQRS_QUERY_IMAGE=cqrs-check/query-service
export TESTCONTAINERS_RYUK_DISABLED=true # its reaper image is in no registry reachable here
export CQRS_TEST_RABBITMQ_IMAGE=$CQRS_RABBITMQ_IMAGE CQRS_TEST_POSTGRES_IMAGE=$CQRS_POSTGRES_IMAGE
export CQRS_TEST_MONGODB_IMAGE=$CQRS_MONGODB_IMAGE

cleanup() {
  if [ "${CQRS_KEEP_IMAGES:-0}" != 1 ]; then
    docker rmi -f "$CQRS_COMMAND_IMAGE" "$CQRS_QUERY_IMAGE" cqrs-standin/rabbitmq cqrs-standin/postgres \
      cqrs-standin/mongodb "$CQRS_BASE_IMAGE" >/dev/null 2>&1 || true
    docker image prune -f >/dev/null 2>&1 || true
  fi
  bash infra/containers/engine.sh --stop
}
trap cleanup EXIT
trap 'exit 143' TERM INT # run the EXIT trap on a timeout or a Ctrl-C too

uv sync --frozen --quiet --inexact
# Prometheus's checker for the observability kit, as in `make test` (infra/promtool.sh).
PATH="$(bash infra/promtool.sh):$PATH"
export PATH
echo "==> containers: the compose stack (tests/containers)"
uv run --frozen pytest -p no:cacheprovider -m containers tests/containers
for image in "$CQRS_COMMAND_IMAGE" "$CQRS_QUERY_IMAGE"; do
  echo "image $image: $(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1 / 1e6}')" \
    >>"$CQRS_CHECK_REPORT"
done

echo "==> containers: testcontainers fixtures, against the stand-ins (integration and e2e tests)"
t1=$SECONDS
# Not the rebuild and verify tests (tests/e2e/test_projection.py, 10,600 events): the stand-in
# MongoDB keeps its data in SQLite, where FerretDB scans a collection for every lookup, and they did
# not finish in 10 minutes. Nor the fuzz test, which checks the services' input handling, nor the
# rolling-upgrade test, which checks the contract's evolution: not the containers. All three run in
# `make test`, against FerretDB on PostgreSQL. Nor the checks of what infra/provision.sh sets up on the
# local servers (TLS listeners, PostgreSQL roles and rights, FerretDB's login): the images have none of
# it (README "Security"). Nor `make bench` and `make soak` themselves (test_bench, test_soak): they
# measure the pair on the local servers only (they refuse another broker: tests/resources.py).
env -u CQRS_RABBITMQ_URL -u CQRS_POSTGRES_DSN -u CQRS_MONGODB_URL -u CQRS_TEST_POSTGRES_DSN \
  uv run --frozen pytest -p no:cacheprovider tests/integration tests/e2e \
  --ignore tests/e2e/test_projection.py --ignore tests/e2e/test_fuzz.py --ignore tests/e2e/test_rolling_upgrade.py \
  --ignore tests/e2e/test_tls.py --ignore tests/integration/test_privileges.py --ignore tests/e2e/test_bench.py \
  --ignore tests/e2e/test_soak.py
echo "testcontainers run: $((SECONDS - t1)) s" >>"$CQRS_CHECK_REPORT"
echo "make test-containers: $((SECONDS - t0)) s in all" >>"$CQRS_CHECK_REPORT"
echo "==> containers: measured"
sed 's/^/    /' "$CQRS_CHECK_REPORT"
