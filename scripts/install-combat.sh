#!/usr/bin/env bash
# Install Combat, the pure-Tcl CORBA ORB (Debian/Ubuntu package tcl-combat,
# which brings tclsh and itcl), for the second-ORB peers in testdata/combat.
# Idempotent: does nothing when tclsh can already `package require combat`.
# Prints at most one line.
set -euo pipefail
source "$(dirname "$0")/apt-install.sh"

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

PKGS=(tcl-combat tcl)
apt_install install-combat "${PKGS[@]}"

if ! have_all; then
  echo "install-combat: packages installed but tclsh cannot load combat" >&2
  exit 1
fi
echo "install-combat: installed ${PKGS[*]} ($(combat_version))"
