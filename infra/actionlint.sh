#!/usr/bin/env bash
# Check .github/workflows with actionlint (pinned; built once from the Go module proxy into the state
# dir's bin/, like the FerretDB program). `make lint` and `make test` run it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VERSION=v1.7.12
BIN="${CQRS_STATE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cqrs-pair}/bin"
TOOL="$BIN/actionlint-$VERSION"
if [ ! -x "$TOOL" ]; then
  echo "==> actionlint: building $VERSION (Go module proxy)"
  mkdir -p "$BIN"
  GOBIN="$BIN" go install "github.com/rhysd/actionlint/cmd/actionlint@$VERSION"
  mv "$BIN/actionlint" "$TOOL"
fi
"$TOOL" -no-color .github/workflows/*.yml
echo "==> actionlint: .github/workflows clean"
