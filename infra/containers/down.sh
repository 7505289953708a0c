#!/usr/bin/env bash
# `make down`: stop and remove the containers of `make up`; the data volumes stay (add -v to drop them).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=compose.sh
. infra/containers/compose.sh
"${COMPOSE[@]}" down "$@"
