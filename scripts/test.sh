#!/usr/bin/env bash
# All tests, on a fresh Debian 12 machine: installs what is needed, builds (debug
# preset), runs every unit and integration test through ctest (the integration tests
# start their own Dovecot on loopback), then builds the libFuzzer target with clang and
# runs every libFuzzer target for a bounded time (MB_FUZZ_SECONDS in all, default 150, split
# evenly between the 8 parsers: about 19 s each).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup-debian.sh
cmake --preset debug >/dev/null
cmake --build --preset debug
ctest --preset debug --output-on-failure
scripts/fuzz.sh "${MB_FUZZ_SECONDS:-150}"
