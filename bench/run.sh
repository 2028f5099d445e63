#!/usr/bin/env bash
# Runs the benchmarks against a throwaway Dovecot and a real mailbrokerd process, on a
# release build. Usage: bench/run.sh [attach_bench options, e.g. --attach 5000]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${MB_BENCH_BUILD:-$root/build/release}
"$root/scripts/setup-debian.sh"
cmake --preset release -S "$root" >/dev/null
cmake --build "$build" --target mailbrokerd attach_bench -j2

state=$(mktemp -d /tmp/mb-bench-XXXXXX)
chmod 755 "$state"  # Dovecot's mail processes (uid nobody) must reach the testbed below it
cleanup() {
  [[ -n ${daemon_pid:-} ]] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
  "$root/scripts/testbed/dovecot.sh" stop "$state/dovecot" >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT
env_file=$("$root/scripts/testbed/dovecot.sh" start "$state/dovecot" | tail -n1)
"$build/daemon/mailbrokerd" --socket "$state/d.sock" --state-dir "$state/daemon-state" --log-level warn &
daemon_pid=$!
for _ in $(seq 100); do [[ -S $state/d.sock ]] && break; sleep 0.05; done
"$build/bench/attach_bench" --target "unix:$state/d.sock" --testbed-env "$env_file" "$@"
