#!/usr/bin/env bash
# Build the omniORB interop peers into OUTDIR.
#
#   testdata/interop/build.sh OUTDIR
#
# Produces OUTDIR/{echo_server,echo_client,bidir_server,bidir_client} plus the
# omniidl stubs (OUTDIR/demo.hh, OUTDIR/demoSK.cc).  Nothing is written inside
# testdata/.  Incremental: a step is skipped when its output is newer than all
# of its inputs (including this script).  Fails loudly on any error.
# Prerequisites: scripts/install-omniorb.sh.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi

trap 'echo "build.sh: FAILED (line $LINENO: $BASH_COMMAND)" >&2' ERR

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
TESTDATA=$(dirname "$SRC")
OUT=$(realpath -m -- "$1")
case "$OUT/" in
  "$TESTDATA"/*) echo "build.sh: OUTDIR must be outside $TESTDATA" >&2; exit 2 ;;
esac
mkdir -p "$OUT"

# Serialise concurrent builds into the same OUTDIR (go test runs packages in
# parallel, and each may call this script).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$OUT/.build.lock"
  flock 9
fi

for tool in omniidl g++ pkg-config; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "build.sh: $tool not found (run scripts/install-omniorb.sh)" >&2
    exit 1
  }
done
if ! OMNI_FLAGS=$(pkg-config --cflags --libs omniORB4 omniDynamic4); then
  echo "build.sh: pkg-config cannot find omniORB4/omniDynamic4 (run scripts/install-omniorb.sh)" >&2
  exit 1
fi
CXX=${CXX:-g++}
CXXFLAGS=${CXXFLAGS:--O2 -Wall -std=c++17}

# stale OUTPUT INPUT... : true when OUTPUT is missing or older than any INPUT.
stale() {
  local out=$1
  shift
  [ -e "$out" ] || return 0
  local in
  for in in "$@"; do
    [ "$in" -nt "$out" ] && return 0
  done
  return 1
}

SELF="$SRC/build.sh"

# 1. IDL stubs.  omniidl writes demo.hh and demoSK.cc into the current dir.
if stale "$OUT/demoSK.cc" "$SRC/demo.idl" "$SELF" || stale "$OUT/demo.hh" "$SRC/demo.idl" "$SELF"; then
  echo "omniidl -bcxx demo.idl -> $OUT"
  (cd "$OUT" && omniidl -bcxx "$SRC/demo.idl")
fi

# 2. Stub object file, shared by all four programs.
if stale "$OUT/demoSK.o" "$OUT/demoSK.cc" "$OUT/demo.hh" "$SELF"; then
  echo "g++ demoSK.cc"
  # shellcheck disable=SC2086
  $CXX $CXXFLAGS -I"$OUT" -c -o "$OUT/demoSK.o.tmp.$$" "$OUT/demoSK.cc"
  mv -f "$OUT/demoSK.o.tmp.$$" "$OUT/demoSK.o"
fi

# 3. Programs.
for prog in echo_server echo_client bidir_server bidir_client; do
  if stale "$OUT/$prog" "$SRC/$prog.cc" "$OUT/demoSK.o" "$OUT/demo.hh" "$SELF"; then
    echo "g++ $prog.cc -> $OUT/$prog"
    # shellcheck disable=SC2086
    $CXX $CXXFLAGS -I"$OUT" -o "$OUT/$prog.tmp.$$" "$SRC/$prog.cc" "$OUT/demoSK.o" $OMNI_FLAGS -pthread
    mv -f "$OUT/$prog.tmp.$$" "$OUT/$prog"
  fi
done
