# Sourced by the install-*.sh scripts: apt_install NAME PKG... installs
# Debian packages non-interactively, as root or through passwordless sudo,
# silent unless it fails (then it prints apt's output and exits 1).
apt_install() {
  local name=$1
  shift
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "$name: apt-get not found; install $* by hand" >&2
    exit 1
  fi
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo -n env DEBIAN_FRONTEND=noninteractive)
    else
      echo "$name: not root and sudo is not available" >&2
      exit 1
    fi
  fi
  local log
  log=$(mktemp)
  if ! { DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update &&
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "$@"; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "$name: apt-get failed" >&2
    exit 1
  fi
  rm -f "$log"
}
