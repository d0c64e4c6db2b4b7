#!/usr/bin/env bash
# Build the omniORB Native Messaging peers (seed 003's examples) into OUTDIR.
#
#   testdata/nm/build.sh OUTDIR
#
# Produces OUTDIR/{stock_server,polling_client,group_client,waitreply_client}
# plus the omniidl stubs of StockManager.idl and ../../idl/NativeMessaging.idl
# (OUTDIR/{StockManager,NativeMessaging}.hh and *SK.cc).  Nothing is written
# inside testdata/.  Incremental: a step is skipped when its output is newer
# than all of its inputs (including this script).  Fails loudly on any error.
# CXX and CXXFLAGS can be overridden; changing them rebuilds the objects.
# Prerequisites: scripts/install-omniorb.sh.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi

trap 'echo "build.sh: FAILED (line $LINENO: $BASH_COMMAND)" >&2' ERR

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
TESTDATA=$(dirname "$SRC")
ROOT=$(dirname "$TESTDATA")
NMIDL="$ROOT/idl/NativeMessaging.idl"
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
# The compiler and flags are an input of every object: rewritten when changed.
FLAGS="$OUT/.cxxflags"
if [ ! -e "$FLAGS" ] || [ "$(cat "$FLAGS")" != "$CXX $CXXFLAGS" ]; then
  printf '%s\n' "$CXX $CXXFLAGS" >"$FLAGS"
fi

# 1. IDL stubs.  omniidl writes NAME.hh and NAMESK.cc into the current dir.
for idl in "$SRC/StockManager.idl" "$NMIDL"; do
  name=$(basename "$idl" .idl)
  if stale "$OUT/${name}SK.cc" "$idl" "$SELF" || stale "$OUT/$name.hh" "$idl" "$SELF"; then
    echo "omniidl -bcxx $name.idl -> $OUT"
    (cd "$OUT" && omniidl -bcxx "$idl")
  fi
done

# 2. Object files shared by the programs: the two stubs and the NM Current.
compile() { # compile OBJ SRC DEPS...
  local obj=$1 src=$2
  shift 2
  if stale "$obj" "$src" "$@" "$SELF" "$FLAGS"; then
    echo "g++ $(basename "$src")"
    # shellcheck disable=SC2086
    $CXX $CXXFLAGS -I"$OUT" -I"$SRC" -c -o "$obj.tmp.$$" "$src"
    mv -f "$obj.tmp.$$" "$obj"
  fi
}
compile "$OUT/StockManagerSK.o" "$OUT/StockManagerSK.cc" "$OUT/StockManager.hh"
compile "$OUT/NativeMessagingSK.o" "$OUT/NativeMessagingSK.cc" "$OUT/NativeMessaging.hh"
compile "$OUT/nm_current.o" "$SRC/nm_current.cc" "$SRC/nm_current.hh" "$OUT/NativeMessaging.hh"

# 3. Programs.  All link both stubs; only the NM-aware clients use nm_current.o.
STUBS=("$OUT/StockManagerSK.o" "$OUT/NativeMessagingSK.o")
link() { # link PROG EXTRA_OBJS...
  local prog=$1
  shift
  if stale "$OUT/$prog" "$SRC/$prog.cc" "$SRC/nm_current.hh" "${STUBS[@]}" "$@" \
      "$OUT/StockManager.hh" "$OUT/NativeMessaging.hh" "$SELF" "$FLAGS"; then
    echo "g++ $prog.cc -> $OUT/$prog"
    # shellcheck disable=SC2086
    $CXX $CXXFLAGS -I"$OUT" -I"$SRC" -o "$OUT/$prog.tmp.$$" "$SRC/$prog.cc" "$@" "${STUBS[@]}" $OMNI_FLAGS -pthread
    mv -f "$OUT/$prog.tmp.$$" "$OUT/$prog"
  fi
}
link stock_server
link polling_client
link group_client "$OUT/nm_current.o"
link waitreply_client "$OUT/nm_current.o"
