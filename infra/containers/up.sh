#!/usr/bin/env bash
# `make up`: the whole stack of docker-compose.yml, built and started; returns once every container is
# healthy (the migrate job: exited 0) and the pair answers a query sent from this machine through
# RabbitMQ. Arguments go to `compose up` (say --scale command-service=3). Needs Docker with Compose and
# uv; no root, no GNU-only tools. CQRS_UP_WAIT: seconds to wait for health (default 300).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=compose.sh
. infra/containers/compose.sh
wait_seconds=${CQRS_UP_WAIT:-300}
t0=$SECONDS

echo "==> up: building and starting $CQRS_PROJECT (${COMPOSE[*]})"
"${COMPOSE[@]}" up -d --build "$@"

# One line per container: "name state health exit-code restart-policy".
states() {
  # shellcheck disable=SC2046
  docker inspect -f '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}-{{end}} {{.State.ExitCode}} {{.HostConfig.RestartPolicy.Name}}' \
    $(project_containers) | sed 's|^/||'
}

last=""
while :; do
  waiting="" failed=""
  while read -r name state health code restart; do
    [ -n "$name" ] || continue
    if [ "$state" = exited ]; then
      # Only a one-shot job (never restarted) may exit, and only with 0.
      { [ "${restart:-no}" = no ] && [ "$code" = 0 ]; } || failed="$failed $name(exit $code)"
    elif [ "$state/$health" != running/healthy ]; then
      waiting="$waiting $name($state/$health)"
    fi
  done <<<"$(states)"
  if [ -n "$failed" ]; then
    echo "==> up: failed:$failed" >&2
    "${COMPOSE[@]}" logs --tail 30 >&2 || true
    exit 1
  fi
  [ -n "$waiting" ] || break
  if [ $((SECONDS - t0)) -ge "$wait_seconds" ]; then
    echo "==> up: not healthy after ${wait_seconds}s:$waiting" >&2
    "${COMPOSE[@]}" logs --tail 30 >&2 || true
    exit 1
  fi
  if [ "$waiting" != "$last" ]; then
    echo "==> up: waiting for$waiting"
    last=$waiting
  fi
  sleep 2
done
echo "==> up: every container healthy after $((SECONDS - t0))s"

# As a client (docker-compose.yml's default password unless .env or the shell gives another).
export CQRS_RABBITMQ_URL="amqp://cqrs-client:${CQRS_RABBITMQ_CLIENT_PASSWORD:-cqrs-client}@127.0.0.1:${CQRS_RABBITMQ_PORT:-5672}/cqrs"
if ! uv run --frozen --quiet cqrs --timeout 30 customer preferred --limit 1 >/dev/null; then
  echo "==> up: the containers are healthy but the pair did not answer a query as cqrs-client on port ${CQRS_RABBITMQ_PORT:-5672}" >&2
  exit 1
fi
echo "==> up: the pair answers (amqp://cqrs-client:…@127.0.0.1:${CQRS_RABBITMQ_PORT:-5672}/cqrs) after $((SECONDS - t0))s"
