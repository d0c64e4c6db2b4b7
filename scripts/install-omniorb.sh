#!/usr/bin/env bash
# Install the omniORB 4.2.5 C++ toolchain used to build the interop peers in
# testdata/interop/ (Debian/Ubuntu, apt). Idempotent: does nothing when every
# required tool and header is already present. Prints exactly one line.
set -euo pipefail
source "$(dirname "$0")/apt-install.sh"

export DEBIAN_FRONTEND=noninteractive

have_all() {
  command -v omniidl >/dev/null 2>&1 &&
    command -v catior >/dev/null 2>&1 &&
    command -v omniNames >/dev/null 2>&1 &&
    command -v g++ >/dev/null 2>&1 &&
    command -v pkg-config >/dev/null 2>&1 &&
    command -v systemd-analyze >/dev/null 2>&1 &&
    [ -f /usr/include/omniORB4/CORBA.h ] &&
    [ -f /usr/include/openssl/ssl.h ]
}

if have_all; then
  exit 0
fi

# omniorb-nameserver: omniNames, for the naming-service registration test;
# systemd: systemd-analyze, which checks deploy/requestagent.service;
# libssl-dev: OpenSSL's headers, which omniORB's sslContext.h includes, for
# the peers linked with its SSL transport (testdata/tls).
PKGS=(libomniorb4-dev omniidl omniorb omniorb-idl omniorb-nameserver g++ pkg-config make systemd libssl-dev)
apt_install install-omniorb "${PKGS[@]}"

if ! have_all; then
  echo "install-omniorb: packages installed but omniidl/catior/CORBA.h/openssl/ssl.h/g++/pkg-config still missing" >&2
  exit 1
fi
echo "install-omniorb: installed ${PKGS[*]} ($(pkg-config --modversion omniORB4 2>/dev/null || echo '?'))"
