#!/usr/bin/env bash
# Every Go fuzz target has a committed seed corpus: a non-empty
# testdata/fuzz/FuzzXxx/ beside it, which `go test` runs as regression
# inputs even when nobody fuzzes (`make fuzz` adds crashers to it).
# Run by `make lint`.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=0
while IFS= read -r file; do
  dir=$(dirname "$file")
  for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$file" | awk '{print $2}'); do
    corpus="$dir/testdata/fuzz/$target"
    if [ -z "$(git ls-files "$corpus" 2>/dev/null)" ] && [ -z "$(ls -A "$corpus" 2>/dev/null)" ]; then
      echo "no seed corpus for $target: $corpus is missing or empty (run it with -fuzz and commit inputs there)"
      missing=1
    fi
  done
done < <(grep -rlE '^func Fuzz' --include='*_test.go' . | sort)
exit $missing
