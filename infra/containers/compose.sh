# shellcheck shell=bash
# Sourced by up.sh, down.sh and the container check: COMPOSE is the Compose command this machine has,
# `docker compose` (v2) or else `docker-compose` (v1.29), with the project name and compose files set.
#   COMPOSE_PROJECT_NAME   default cqrs-pair (the file has no top-level name: v1 rejects it)
#   CQRS_COMPOSE_FILES     colon-separated compose files, default docker-compose.yml
# bash 3.2 compatible (macOS): no associative arrays, no GNU-only tools.
if docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  COMPOSE=(docker-compose)
else
  echo "==> containers: no Docker Compose found (docker compose v2, or docker-compose v1.29)" >&2
  exit 1
fi
CQRS_PROJECT=${COMPOSE_PROJECT_NAME:-cqrs-pair}
COMPOSE+=(-p "$CQRS_PROJECT")
IFS=: read -r -a _files <<<"${CQRS_COMPOSE_FILES:-docker-compose.yml}"
for _file in "${_files[@]}"; do
  COMPOSE+=(-f "$_file")
done
unset _files _file

# The project's containers, running or not (both Compose versions label them the same way).
project_containers() {
  docker ps -a -q --filter "label=com.docker.compose.project=$CQRS_PROJECT"
}
