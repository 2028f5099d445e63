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
if ! ctest --preset debug --output-on-failure; then
  # The integration suite is one ctest test whose output runs to thousands of lines: end
  # with what failed and why, so the last lines of a CI log name the failing cases.
  log=build/debug/Testing/Temporary/LastTest.log
  echo "---- failure messages (from $log) ----"
  grep -E -A8 ': Failure$' "$log" | cut -c1-300 | head -n 120 || true
  echo "---- failed test cases ----"
  grep -E '^\[  FAILED  \] [A-Za-z_0-9/.]+ \(' "$log" || true
  exit 1
fi
scripts/fuzz.sh "${MB_FUZZ_SECONDS:-150}"
