#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, `fuzz` preset) and runs them for SECONDS in all
# (default 60) on a scratch copy of its seed corpus, so the repo corpus is unchanged.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
cd "$root"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# target:corpus pairs; SECONDS is split between them.
targets=(imap_response_fuzz:imap_response imap_mailbox_fuzz:imap_mailbox token_response_fuzz:token_response
         pop3_reply_fuzz:pop3_reply smtp_reply_fuzz:smtp_reply ntlm_challenge_fuzz:ntlm_challenge
         ews_response_fuzz:ews_response graph_response_fuzz:graph_response)
per_target=$(((seconds + ${#targets[@]} - 1) / ${#targets[@]}))
for pair in "${targets[@]}"; do
  target=${pair%%:*} corpus=${pair#*:}
  cp -r "tests/fuzz/corpus/$corpus" "$work/$corpus"
  status=0
  "build/fuzz/tests/fuzz/$target" -max_total_time="$per_target" -print_final_stats=1 "$work/$corpus" \
    >"$work/$target.log" 2>&1 || status=$?
  if [[ $status -ne 0 ]]; then
    tail -n 60 "$work/$target.log"
    echo "fuzz: $target failed (exit $status)" >&2
    exit "$status"
  fi
  echo "$target: $(grep -E '^Done' "$work/$target.log")"
done
