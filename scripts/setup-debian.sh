#!/usr/bin/env bash
# Install every Debian (12 "bookworm") package needed to build and test
# mailbroker. Safe to re-run: when everything is installed already it only
# runs dpkg-query and exits (no apt-get update, no network).
#
#   scripts/setup-debian.sh          install what is missing
#   scripts/setup-debian.sh --check  only report what is missing (exit 1 if any)
set -euo pipefail

# One package per line; extend here. All names verified with apt-cache policy
# on Debian 12.
PACKAGES=(
  # toolchain
  build-essential
  cmake
  ninja-build
  ccache
  pkg-config
  git
  g++
  clang-14
  libclang-rt-14-dev # sanitizer runtimes for clang builds
  # libraries
  libgrpc++-dev
  protobuf-compiler-grpc
  libprotobuf-dev
  protobuf-compiler
  libboost-dev
  libboost-system-dev
  libspdlog-dev
  libfmt-dev
  libssl-dev
  libgtest-dev
  libgmock-dev
  nlohmann-json3-dev
  libsqlite3-dev
  libgmime-3.0-dev # MIME (issue #4): header decoding, later message parsing
  libpugixml-dev # EWS (issue #11): SOAP responses; lenient with the character references Exchange sends
  # test bed (scripts/testbed/dovecot.sh)
  dovecot-core
  dovecot-imapd
  dovecot-pop3d
  openssl
  python3
  ca-certificates
  procps
  iproute2
  curl
  python3-exchangelib # EWS (issue #11): an independent EWS client run against the fake EWS server
  python3-defusedxml # EWS: the fake EWS server parses requests with it (also an exchangelib dependency)
  python3-lxml # EWS: the fake's own tests read responses that hold character references Exchange-style
  python3-ntlm-auth # EWS: the fake's NTLM tests drive a real NTLM client (exchangelib pulls it in too)
  prometheus # promtool: tests/integration/metrics_test.cpp lints a /metrics scrape
)
# nodejs and npm (for scripts/testbed/oauth2.sh and smtp.sh) are not in the list: they are
# installed from Debian only when the commands are missing. This project's
# machines come with Node.js 20 + npm from NodeSource as the dpkg package
# "nodejs" (which Provides and Conflicts with "npm"): listing "npm" would make
# the dpkg check below call it missing and 'apt-get install npm' then fails.
# Debian 12's own Node.js 18 is enough: the OAuth2 test server pins
# oidc-provider 8.8.1, the newest release that supports Node.js 18, and the SMTP
# test server pins smtp-server 3.16.1 (Node.js >= 18.18) for the same reason.
# python3 also runs scripts/testbed/parse_eml.py (standard library only).

log() { printf 'setup-debian: %s\n' "$*" >&2; }

# A package counts as installed only in state "install ok installed"
# (not e.g. "deinstall ok config-files" left behind by a removal). One
# dpkg-query call for the whole list keeps the no-op case fast; unknown
# packages are simply absent from its output.
missing_packages() {
  local -A installed=()
  local pkg status
  while IFS=' ' read -r pkg status; do
    if [[ $status == "install ok installed" ]]; then installed[$pkg]=1; fi
  done < <(dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)
  for pkg in "${PACKAGES[@]}"; do
    [[ -n ${installed[$pkg]:-} ]] || printf '%s\n' "$pkg"
  done
}

# Debian's nodejs + npm when node or npm is missing (see above).
missing_node() {
  command -v node >/dev/null && command -v npm >/dev/null && return 0
  printf '%s\n' nodejs npm
}

main() {
  command -v dpkg-query >/dev/null || { log "dpkg-query not found: this script is for Debian/Ubuntu"; exit 1; }
  local missing
  mapfile -t missing < <(missing_packages; missing_node)
  if ((${#missing[@]} == 0)); then
    log "all ${#PACKAGES[@]} packages already installed"
    return 0
  fi
  log "missing: ${missing[*]}"
  [[ ${1:-} == --check ]] && return 1

  local sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null || { log "not root and sudo is not installed"; exit 1; }
    sudo=(sudo)
  fi

  "${sudo[@]}" apt-get update
  # Note: on a systemd machine dovecot-core's postinst enables and starts a
  # system-wide Dovecot (ports 143/993/110/995). The test bed neither needs
  # nor disturbs it; 'sudo systemctl disable --now dovecot' if unwanted.
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
  log "installed: ${missing[*]}"
}

main "$@"
