#!/usr/bin/env bash
# Run every Go fuzz target in the module for a bounded time each.
#   scripts/fuzz.sh [FUZZTIME]   (default 20s)
# Targets are found by name (func FuzzXxx in *_test.go). A crasher makes the
# run fail; Go writes it to the package's testdata/fuzz/FuzzXxx/, where it
# stays as a regression input for `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-20s}
status=0
while IFS= read -r file; do
  pkg=./$(dirname "$file")
  for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$file" | awk '{print $2}'); do
    echo "== $pkg $target ($fuzztime)"
    if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"; then
      status=1
    fi
  done
done < <(grep -rlE '^func Fuzz' --include='*_test.go' . | sort)
exit $status
