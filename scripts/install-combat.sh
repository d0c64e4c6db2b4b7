#!/usr/bin/env bash
# Install Combat, the pure-Tcl CORBA ORB (Debian/Ubuntu package tcl-combat,
# which brings tclsh and itcl), for the second-ORB peers in testdata/combat.
# Idempotent: does nothing when tclsh can already `package require combat`.
# Prints at most one line.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

# tclsh reading a script from stdin reports an error and still exits 0,
# so the check exits 1 itself when Combat is missing.
combat_version() {
  echo 'if {[catch {package require combat} v]} {exit 1}; puts $v' | tclsh 2>/dev/null
}

have_all() {
  command -v tclsh >/dev/null 2>&1 && combat_version >/dev/null
}

if have_all; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-combat: apt-get not found; install Combat 0.8 (tcl-combat) and tclsh by hand" >&2
  exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo -n env DEBIAN_FRONTEND=noninteractive)
  else
    echo "install-combat: not root and sudo is not available" >&2
    exit 1
  fi
fi

PKGS=(tcl-combat tcl)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { "${SUDO[@]}" apt-get update && "${SUDO[@]}" apt-get install -y --no-install-recommends "${PKGS[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-combat: apt-get failed" >&2
  exit 1
fi

if ! have_all; then
  echo "install-combat: packages installed but tclsh cannot load combat" >&2
  exit 1
fi
echo "install-combat: installed ${PKGS[*]} ($(combat_version))"
