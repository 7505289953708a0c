#!/usr/bin/env bash
# `make test`: servers (see servers.sh), then lint, types and the whole pytest suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CQRS_TESTCONTAINERS_OK=1
# shellcheck source=servers.sh
. infra/servers.sh
# The bench group too: tests/e2e/test_bench.py runs `make bench`'s code (FastStream, matplotlib); and
# the docs group, for `make docs` below.
uv sync --frozen --quiet --group bench --group docs
echo "==> lint: ruff"
uv run --frozen --group bench ruff check .
uv run --frozen --group bench ruff format --check --quiet .
echo "==> types: mypy --strict"
uv run --frozen --group bench mypy
echo "==> layers: lint-imports (pyproject.toml [tool.importlinter])"
uv run --frozen --group bench lint-imports
echo "==> types: the examples (mypy --strict examples/)"
uv run --frozen --group bench mypy --strict examples/client_quickstart.py examples/python_subscriber/
echo "==> workflow: actionlint (.github/workflows)"
bash infra/actionlint.sh
echo "==> contract: AsyncAPI up to date, no breaking change, valid"
make -s contract-check
echo "==> docs: the site builds with warnings as errors (mkdocs --strict: links, anchors, nav)"
make -s docs
echo "==> tests: pytest"
# Prometheus's checker for the observability kit's rules (infra/promtool.sh).
PATH="$(bash infra/promtool.sh):$PATH"
export PATH
# pytest exits 5 when it ran no test; that is a failure here like any other non-zero status.
uv run --frozen --group bench pytest "$@"
