#!/usr/bin/env bash
# House rule: no fmt.Print* outside cmd/ and tests; everything logs through zerolog.
set -euo pipefail
cd "$(dirname "$0")/.."
hits=$(grep -rnE 'fmt\.Print(ln|f)?\(' --include='*.go' . | grep -v '_test.go' | grep -v '^./cmd/' || true)
if [ -n "$hits" ]; then
  echo "fmt.Print outside cmd/ (log through zerolog instead):"
  echo "$hits"
  exit 1
fi
