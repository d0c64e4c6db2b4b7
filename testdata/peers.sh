# Shared by the build.sh of each omniORB peer directory (interop, idl, nm):
# argument checks, a lock, and incremental steps. Source it, call
# peers_init "$@", then idl_stubs, compile and link.
#
# Nothing is written inside testdata/. A step is skipped when its output is
# newer than all its inputs — the sources, this file, the calling script and
# the compiler flags (changing CXX or CXXFLAGS rebuilds). Any failure prints
# "build.sh: FAILED (line N: command)". Prerequisite: scripts/install-omniorb.sh.

set -euo pipefail
trap 'echo "build.sh: FAILED (line $LINENO: $BASH_COMMAND)" >&2' ERR

# peers_init OUTDIR: sets SRC (the calling script's directory), ROOT (the
# repository), OUT, CXX, CXXFLAGS, OMNI_FLAGS; takes the OUTDIR lock.
peers_init() {
  if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
  fi
  SRC=$(cd "$(dirname "$0")" && pwd -P)
  TESTDATA=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
  ROOT=$(dirname "$TESTDATA")
  OUT=$(realpath -m -- "$1")
  case "$OUT/" in
    "$TESTDATA"/*) echo "build.sh: OUTDIR must be outside $TESTDATA" >&2; exit 2 ;;
  esac
  mkdir -p "$OUT"
  # go test builds packages in parallel, and each may call a build.sh.
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$OUT/.build.lock"
    flock 9
  fi
  local tool
  for tool in omniidl g++ pkg-config; do
    command -v "$tool" >/dev/null 2>&1 || {
      echo "build.sh: $tool not found (run scripts/install-omniorb.sh)" >&2
      exit 1
    }
  done
  # omniDynamic4: peers that build a CORBA::Any (policies, anys, TypeCodes).
  if ! OMNI_FLAGS=$(pkg-config --cflags --libs omniORB4 omniDynamic4); then
    echo "build.sh: pkg-config cannot find omniORB4/omniDynamic4 (run scripts/install-omniorb.sh)" >&2
    exit 1
  fi
  CXX=${CXX:-g++}
  CXXFLAGS=${CXXFLAGS:--O2 -Wall -std=c++17}
  FLAGS="$OUT/.cxxflags"
  if [ ! -e "$FLAGS" ] || [ "$(cat "$FLAGS")" != "$CXX $CXXFLAGS" ]; then
    printf '%s\n' "$CXX $CXXFLAGS" >"$FLAGS"
  fi
  DEPS=("$TESTDATA/peers.sh" "$TESTDATA/peer_util.hh" "$SRC/build.sh" "$FLAGS")
  NMLIB_INC=()
}

# nm_library: builds the shipped Native Messaging runtime (clients/cpp, its
# own Makefile) into the peer sets' shared directory OUT/../cpp, so that
# every NM-aware peer links the library users get, not a copy. Sets
# NMLIB_INC (the include flags, put on every compile and link after this)
# and NMLIB (the static archive, to link as an object). Peer sets build in
# parallel (go test), hence the lock of that directory.
nm_library() {
  local dir
  dir=$(dirname "$OUT")/cpp
  mkdir -p "$dir"
  command -v make >/dev/null 2>&1 || {
    echo "build.sh: make not found (run scripts/install-omniorb.sh)" >&2
    exit 1
  }
  (
    if command -v flock >/dev/null 2>&1; then
      exec 8>"$dir/.build.lock"
      flock 8
    fi
    # Quiet unless it fails: the peers' own steps are what build.sh shows.
    local log
    log=$(make -C "$ROOT/clients/cpp" BUILD="$dir" CXX="$CXX" CXXFLAGS="$CXXFLAGS" 2>&1) || {
      printf '%s\n' "$log" >&2
      exit 1
    }
  )
  NMLIB_INC=(-I"$dir/include" -I"$dir/include/requestagent")
  NMLIB="$dir/lib/librequestagent-nm.a"
}

# stale OUTPUT INPUT...: true when OUTPUT is missing or older than an INPUT.
stale() {
  local out=$1
  shift
  [ -e "$out" ] || return 0
  local in
  for in in "$@" "${DEPS[@]}"; do
    [ "$in" -nt "$out" ] && return 0
  done
  return 1
}

# idl_stubs IDL [OMNIIDL_FLAGS...]: NAME.hh and NAMESK.cc (and NAMEDynSK.cc
# with -Wba) in OUT.
idl_stubs() {
  local idl=$1 name
  shift
  name=$(basename "$idl" .idl)
  if stale "$OUT/${name}SK.cc" "$idl" || stale "$OUT/$name.hh" "$idl"; then
    echo "omniidl -bcxx $* $name.idl -> $OUT"
    (cd "$OUT" && omniidl -bcxx "$@" "$idl")
  fi
}

# compile OBJ SOURCE [DEPS...]: one object file.
compile() {
  local obj=$1 src=$2
  shift 2
  if stale "$obj" "$src" "$@"; then
    echo "g++ $(basename "$src")"
    # shellcheck disable=SC2086
    $CXX $CXXFLAGS -I"$OUT" -I"$SRC" -I"$TESTDATA" "${NMLIB_INC[@]}" -c -o "$obj.tmp.$$" "$src"
    mv -f "$obj.tmp.$$" "$obj"
  fi
}

# link PROG OBJS... [-- DEPS...]: OUT/PROG from SRC/PROG.cc and the objects.
link() {
  local prog=$1 objs=() deps=()
  shift
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do objs+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  deps=("$@")
  if stale "$OUT/$prog" "$SRC/$prog.cc" "${objs[@]}" "${deps[@]}"; then
    echo "g++ $prog.cc -> $OUT/$prog"
    # shellcheck disable=SC2086
    $CXX $CXXFLAGS -I"$OUT" -I"$SRC" -I"$TESTDATA" "${NMLIB_INC[@]}" -o "$OUT/$prog.tmp.$$" "$SRC/$prog.cc" "${objs[@]}" $OMNI_FLAGS -pthread
    mv -f "$OUT/$prog.tmp.$$" "$OUT/$prog"
  fi
}
