#!/usr/bin/env bash
# Build the omniORB round-trip peers of the idl package into OUTDIR.
#
#   testdata/idl/build.sh OUTDIR
#
# Produces OUTDIR/{rt_server,rt_client} plus the omniidl stubs
# (OUTDIR/roundtrip.hh, OUTDIR/roundtripSK.cc, OUTDIR/roundtripDynSK.cc).  Nothing is written inside
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
# omniDynamic4: the peers put values into CORBA::Any and compare TypeCodes.
if ! OMNI_FLAGS=$(pkg-config --cflags --libs omniORB4 omniDynamic4); then
  echo "build.sh: pkg-config cannot find omniORB4/omniDynamic4 (run scripts/install-omniorb.sh)" >&2
  exit 1
fi
# roundtrip.idl includes <orb.idl> (for CORBA::TypeCode) from omniORB's IDL
# directory.
OMNI_IDL_DIR=${OMNI_IDL_DIR:-$(pkg-config --variable=datadir omniORB4 2>/dev/null || true)/idl/omniORB}
if [ ! -f "$OMNI_IDL_DIR/orb.idl" ]; then
  OMNI_IDL_DIR=/usr/share/idl/omniORB
fi
if [ ! -f "$OMNI_IDL_DIR/orb.idl" ]; then
  echo "build.sh: cannot find omniORB's orb.idl (set OMNI_IDL_DIR)" >&2
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

# 1. IDL stubs.  omniidl writes roundtrip.hh, roundtripSK.cc and (-Wba: Any
#    insertion/extraction and TypeCode constants) roundtripDynSK.cc into the
#    current dir.
if stale "$OUT/roundtripSK.cc" "$SRC/roundtrip.idl" "$SELF" ||
   stale "$OUT/roundtripDynSK.cc" "$SRC/roundtrip.idl" "$SELF" ||
   stale "$OUT/roundtrip.hh" "$SRC/roundtrip.idl" "$SELF"; then
  echo "omniidl -bcxx -Wba roundtrip.idl -> $OUT"
  (cd "$OUT" && omniidl -bcxx -Wba -I"$OMNI_IDL_DIR" "$SRC/roundtrip.idl")
fi

# 2. Stub object files, shared by both programs.
for stub in roundtripSK roundtripDynSK; do
  if stale "$OUT/$stub.o" "$OUT/$stub.cc" "$OUT/roundtrip.hh" "$SELF"; then
    echo "g++ $stub.cc"
    # shellcheck disable=SC2086
    $CXX $CXXFLAGS -I"$OUT" -c -o "$OUT/$stub.o.tmp.$$" "$OUT/$stub.cc"
    mv -f "$OUT/$stub.o.tmp.$$" "$OUT/$stub.o"
  fi
done

# 3. Programs.
for prog in rt_server rt_client; do
  if stale "$OUT/$prog" "$SRC/$prog.cc" "$SRC/rt_common.h" "$OUT/roundtripSK.o" "$OUT/roundtripDynSK.o" "$OUT/roundtrip.hh" "$SELF"; then
    echo "g++ $prog.cc -> $OUT/$prog"
    # shellcheck disable=SC2086
    $CXX $CXXFLAGS -I"$OUT" -I"$SRC" -o "$OUT/$prog.tmp.$$" "$SRC/$prog.cc" "$OUT/roundtripSK.o" "$OUT/roundtripDynSK.o" $OMNI_FLAGS -pthread
    mv -f "$OUT/$prog.tmp.$$" "$OUT/$prog"
  fi
done
