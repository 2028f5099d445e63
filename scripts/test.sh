#!/usr/bin/env bash
# All tests, on a fresh Debian 12 machine: installs what is needed, builds (debug
# preset), runs every unit and integration test through ctest (the integration tests
# start their own Dovecot on loopback), then builds the libFuzzer target with clang and
# fuzzes the IMAP response parser for a bounded time (MB_FUZZ_SECONDS in all, default 120: 60 s per parser).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup-debian.sh
cmake --preset debug >/dev/null
cmake --build --preset debug
ctest --preset debug --output-on-failure
scripts/fuzz.sh "${MB_FUZZ_SECONDS:-150}"
