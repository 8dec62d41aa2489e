#!/usr/bin/env bash
# Installs what the tests need beyond Node: iproute2 (namespaces, bridges and
# veths) and nftables (partitions and packet loss) for scripts/netns-cluster.sh,
# strace (the durability test), faketime (the clock-skew test), and socat and
# systemd (systemd-notify, systemd-analyze: the service unit test). Idempotent:
# installs only what is missing, so CI can call it on every run.
set -euo pipefail

usage () {
  cat <<USAGE
Usage: $(basename "$0") [-h]

Installs iproute2, nftables, strace, faketime, socat and systemd with apt-get
when 'ip', 'nft', 'strace', 'faketime', 'socat', 'systemd-notify' or
'systemd-analyze' is missing. Needs root (or sudo) on a Debian or
Ubuntu machine. Does nothing when all are already present.
USAGE
}

main () {
  if [[ ${1:-} == -h || ${1:-} == --help ]]; then usage; return 0; fi
  if [[ $# -gt 0 ]]; then usage >&2; return 2; fi

  local -a missing=()
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  command -v nft >/dev/null 2>&1 || missing+=(nftables)
  command -v strace >/dev/null 2>&1 || missing+=(strace)
  command -v faketime >/dev/null 2>&1 || missing+=(faketime)
  command -v socat >/dev/null 2>&1 || missing+=(socat)
  { command -v systemd-notify && command -v systemd-analyze; } >/dev/null 2>&1 || missing+=(systemd)
  if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-test-deps: iproute2, nftables, strace, faketime, socat and systemd already installed"
    return 0
  fi

  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-test-deps: need root (or sudo) to install ${missing[*]}" >&2; return 1; }
    sudo=(sudo)
  fi
  command -v apt-get >/dev/null 2>&1 || { echo "install-test-deps: no apt-get; install ${missing[*]} with your package manager" >&2; return 1; }

  echo "install-test-deps: installing ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

main "$@"
