#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, `fuzz` preset) and runs each for SECONDS
# (default 60) on a scratch copy of its seed corpus, so the repo corpus is unchanged.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
cd "$root"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r tests/fuzz/corpus/imap_response "$work/corpus"
status=0
build/fuzz/tests/fuzz/imap_response_fuzz -max_total_time="$seconds" -print_final_stats=1 "$work/corpus" \
  >"$work/log" 2>&1 || status=$?
if [[ $status -ne 0 ]]; then
  tail -n 60 "$work/log"
  echo "fuzz: imap_response_fuzz failed (exit $status)" >&2
  exit "$status"
fi
grep -E '^Done|stat::number_of_executed_units' "$work/log"
