# shellcheck shell=bash
# Sourced by infra/run.sh and infra/test.sh: decide where the servers are, then export their URLs.
#   all three CQRS_* URLs given  -> use them, provision nothing
#   a Docker engine answers      -> leave them unset: the tests start testcontainers (infra/test.sh only;
#                                   CQRS_USE_DOCKER=0 turns this off, CQRS_USE_DOCKER=1 insists on it)
#   otherwise                    -> infra/provision.sh starts local servers; export infra/local.env
if [ -n "${CQRS_RABBITMQ_URL:-}" ] && [ -n "${CQRS_POSTGRES_DSN:-}" ] && [ -n "${CQRS_MONGODB_URL:-}" ]; then
  echo "==> servers: using the CQRS_* URLs from the environment"
elif [ "${CQRS_TESTCONTAINERS_OK:-0}" = 1 ] && [ "${CQRS_USE_DOCKER:-auto}" != 0 ] &&
  { [ "${CQRS_USE_DOCKER:-auto}" = 1 ] || docker info >/dev/null 2>&1; }; then
  echo "==> servers: testcontainers (Docker) will start them"
else
  bash "$(dirname "${BASH_SOURCE[0]}")/provision.sh"
  set -a
  # shellcheck source=local.env
  . "$(dirname "${BASH_SOURCE[0]}")/local.env"
  set +a
fi
