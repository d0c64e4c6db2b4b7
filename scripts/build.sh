#!/usr/bin/env bash
# Build the requestagent binary the one way every release is built — by
# `make build`, by the container image (deploy/Dockerfile) and by the tests
# that check what a release prints:
#   scripts/build.sh OUTPUT
# A static binary (CGO_ENABLED=0, the pure-Go resolver), paths trimmed, and
# --version naming the release, the commit and its date, which go build's
# own VCS stamping cannot be relied on for (GOFLAGS=-buildvcs=false, a
# source tree without .git).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/build.sh OUTPUT}
version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
commit=${COMMIT:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}
date=${DATE:-$(git show -s --format=%cI HEAD 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)}
if [ -n "$(git status --porcelain 2>/dev/null)" ] && [ -z "${COMMIT:-}" ]; then
  commit="$commit+dirty"
fi
CGO_ENABLED=0 exec "${GO:-go}" build -trimpath \
  -ldflags "-s -w -X main.version=$version -X main.commit=$commit -X main.date=$date" \
  -o "$out" ./cmd/requestagent
