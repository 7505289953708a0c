#!/usr/bin/env bash
# `make test`: servers (see servers.sh), then lint, types and the whole pytest suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CQRS_TESTCONTAINERS_OK=1
# shellcheck source=servers.sh
. infra/servers.sh
uv sync --frozen --quiet
echo "==> lint: ruff"
uv run --frozen ruff check .
uv run --frozen ruff format --check --quiet .
echo "==> types: mypy --strict"
uv run --frozen mypy
echo "==> contract: AsyncAPI up to date, no breaking change, valid"
make -s contract-check
echo "==> tests: pytest"
# pytest exits 5 when it ran no test; that is a failure here like any other non-zero status.
uv run --frozen pytest "$@"
