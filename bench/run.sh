#!/usr/bin/env bash
# Runs the benchmarks against throwaway servers and a real mailbrokerd process, on a
# release build.
#
#   bench/run.sh                        all benchmarks: attach_bench, mailbox_bench, token_bench,
#                                       ews_bench (~2 min of it), graph_bench
#   bench/run.sh [attach_bench options] all; the options go to attach_bench (e.g. --attach 5000)
#   bench/run.sh attach [options]       only attach_bench (Dovecot + mailbrokerd): attach,
#                                       Status, an empty gRPC call (Health/Check), the raw
#                                       unix-socket round trip, a fresh IMAPS login, and the
#                                       daemon's CPU per call (utime+stime of mailbrokerd /
#                                       calls) of each and of GetMessage ~1 KB (cache miss,
#                                       cache hit) and ListMessages of 100 summaries
#                                       NEWEST_FIRST on a planted folder (issue 9), e.g.
#                                       attach --calls 8000, attach --calls 0 (no mailbox calls)
#   bench/run.sh mailbox [options]      only mailbox_bench (Dovecot + mailbrokerd + 20 bot
#                                       processes, "list the 100 newest, read 10", through
#                                       the daemon vs direct, both through delay_proxy at
#                                       one-way delays 0, 10 and 40 ms), e.g.
#                                       mailbox --bots 100 --delays 10 --rounds 3, or
#                                       mailbox --rounds 3 --claims 0 (quick look), or
#                                       mailbox --folders 2 --max-connections 2 (bots in
#                                       two folders, the session's extra connection), or
#                                       mailbox --read-ahead 8388608 (the session reads
#                                       the listed bodies ahead);
#                                       CPU per round of the bots and the daemon too
#   bench/run.sh token [options]        only token_bench (oidc-provider + Dovecot with the
#                                       OAuth2 introspection passdb + a fresh mailbrokerd),
#                                       e.g. token --sessions 50
#   bench/run.sh ews [options]          only ews_bench (the fake EWS server + mailbrokerd + 20
#                                       bot processes, "summaries of the 100 newest unread,
#                                       read 10", through one EWS session vs each bot with its
#                                       own connection + NTLM handshake, both through
#                                       delay_proxy at one-way delays 0 and 10 ms; wall time,
#                                       requests / TCP connections / NTLM handshakes at the
#                                       fake, ratio), e.g. ews --rounds 3, ews --delays 10
#                                       --bots 50, ews --latency fake (the fake's own delay
#                                       control instead of the proxy)
#   bench/run.sh graph [options]        only graph_bench (the test OAuth2 server + the fake
#                                       Graph server checking its tokens by introspection +
#                                       mailbrokerd + 20 bot processes, "summaries of the 100
#                                       newest, read 10", through one Graph session vs each bot
#                                       with its own token and connections, both through
#                                       delay_proxy at one-way delays 0 and 15 ms; wall time,
#                                       Graph requests / 429s / TLS connections / token
#                                       requests, ratio), e.g. graph --rounds 3, graph
#                                       --delays 15 --parallel 1, graph --server-ms 100,
#                                       graph --modes direct (the direct bots only)
#   bench/run.sh scale [options]        only scale_bench (not part of "all": minutes, and
#                                       ~10,000 fds on each side): a Dovecot tuned for
#                                       thousands of IMAPS connections (MB_TESTBED_IMAP_* /
#                                       LOGIN_* knobs of dovecot.sh) + a mailbrokerd that
#                                       scale_bench starts, stops (SIGTERM) and starts again
#                                       itself; N sessions (default 10,000): ramp (Connects/s),
#                                       daemon RSS per idle READY session, Status of all
#                                       (paged, median), daemon idle CPU over 30 s with the
#                                       keepalive used, restart until all READY with BACKOFFs
#                                       and handshake timeouts on the way, e.g. scale
#                                       --sessions 2000, scale --trust system (the default
#                                       trust store: SSL_CERT_FILE = system bundle + testbed
#                                       CA; default --trust ca_file names the testbed CA in
#                                       the spec), scale --login-rate 400 --login-concurrency 64
#
# Knobs: MB_BENCH_BUILD (build dir, default build/release), MB_BENCH_NO_BUILD=1 (run
# what is in the build dir without building: A/B runs), MB_BENCH_TOKEN_TTL (access
# token lifetime for token_bench, s, default 20: cold + warm phases must fit into 80 %
# of it). Every process started here is stopped on exit, also on failure.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${MB_BENCH_BUILD:-$root/build/release}
testbed=$root/scripts/testbed

which=all
case ${1:-} in
  attach | mailbox | token | ews | graph | scale | all) which=$1; shift ;;
esac
attach_args=() mailbox_args=() token_args=() ews_args=() graph_args=() scale_args=()
case $which in
  attach | all) attach_args=("$@") ;;
  mailbox) mailbox_args=("$@") ;;
  token) token_args=("$@") ;;
  ews) ews_args=("$@") ;;
  graph) graph_args=("$@") ;;
  scale) scale_args=("$@") ;;
esac
runs() { [[ $which == all || $which == "$1" ]]; }
targets=(mailbrokerd)
runs attach && targets+=(attach_bench)
runs mailbox && targets+=(mailbox_bench delay_proxy)
runs token && targets+=(token_bench)
runs ews && targets+=(ews_bench delay_proxy)
runs graph && targets+=(graph_bench delay_proxy)
[[ $which == scale ]] && targets+=(scale_bench)

# MB_BENCH_NO_BUILD=1 runs the binaries already in $build as they are (A/B runs against
# a saved copy of an older build).
if [[ ${MB_BENCH_NO_BUILD:-0} != 1 ]]; then
  "$root/scripts/setup-debian.sh"
  cmake --preset release -S "$root" >/dev/null
  cmake --build "$build" --target "${targets[@]}" -j2
fi

state=$(mktemp -d /tmp/mb-bench-XXXXXX)
chmod 755 "$state"  # Dovecot's mail processes (uid nobody) must reach the testbed below it
daemon_pid= bench_pid=

# SIGTERM makes mailbrokerd log every session out; SIGKILL if that takes over 15 s.
stop_daemon() {
  [[ -n $daemon_pid ]] || return 0
  kill -TERM "$daemon_pid" 2>/dev/null || true
  for _ in $(seq 150); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$daemon_pid" 2>/dev/null || true
  wait "$daemon_pid" 2>/dev/null || true
  daemon_pid=
}
cleanup() {
  local rc=$?
  set +e
  [[ -n $bench_pid ]] && kill -TERM "$bench_pid" 2>/dev/null && wait "$bench_pid" 2>/dev/null
  stop_daemon
  if ((rc != 0)) && [[ -s $state/mailbrokerd-token.log ]]; then
    echo "--- last lines of mailbrokerd's log (token_bench) ---" >&2
    tail -n 30 "$state/mailbrokerd-token.log" >&2
  fi
  if ((rc != 0)) && [[ -s $state/mailbrokerd-ews.log ]]; then
    echo "--- last lines of mailbrokerd's log (ews_bench) ---" >&2
    tail -n 30 "$state/mailbrokerd-ews.log" >&2
  fi
  if ((rc != 0)) && [[ -s $state/mailbrokerd-graph.log ]]; then
    echo "--- last lines of mailbrokerd's log (graph_bench) ---" >&2
    tail -n 30 "$state/mailbrokerd-graph.log" >&2
  fi
  for dir in "$state/dovecot" "$state/mailbox" "$state/oauth" "$state/scale"; do
    [[ -d $dir ]] && "$testbed/dovecot.sh" stop "$dir" >/dev/null 2>&1 || true
  done
  [[ -d $state/oauth ]] && "$testbed/oauth2.sh" stop "$state/oauth" >/dev/null 2>&1 || true
  [[ -d $state/ews ]] && "$testbed/ews.sh" stop "$state/ews" >/dev/null 2>&1 || true
  if [[ -d $state/graph ]]; then
    "$testbed/graph.sh" stop "$state/graph" >/dev/null 2>&1 || true
    "$testbed/oauth2.sh" stop "$state/graph" >/dev/null 2>&1 || true
  fi
  rm -rf "$state"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_daemon() {  # SOCKET STATE_DIR [LOG_FILE]
  if [[ -n ${3:-} ]]; then
    "$build/daemon/mailbrokerd" --socket "$1" --state-dir "$2" --log-level warn 2>>"$3" &
  else
    "$build/daemon/mailbrokerd" --socket "$1" --state-dir "$2" --log-level warn &
  fi
  daemon_pid=$!
  for _ in $(seq 100); do [[ -S $1 ]] && break; sleep 0.05; done
  [[ -S $1 ]] || { echo "run.sh: mailbrokerd did not create $1" >&2; exit 1; }
}

# In the background + wait, so that a SIGTERM to this script runs the trap at once.
run_bench() {
  "$@" &
  bench_pid=$!
  wait "$bench_pid"
  bench_pid=
}

if runs attach; then
  echo "== attach_bench"
  env_file=$("$testbed/dovecot.sh" start "$state/dovecot" | tail -n1)
  start_daemon "$state/d.sock" "$state/daemon-state"
  run_bench "$build/bench/attach_bench" --target "unix:$state/d.sock" --testbed-env "$env_file" "${attach_args[@]}"
  # Free the CPU for the next benchmark.
  stop_daemon
  "$testbed/dovecot.sh" stop "$state/dovecot" >/dev/null 2>&1
fi

if runs mailbox; then
  echo "== mailbox_bench"
  # A fresh Dovecot (empty mail store: the bench plants its corpus) and daemon.
  env_file=$("$testbed/dovecot.sh" start "$state/mailbox" | tail -n1)
  start_daemon "$state/m.sock" "$state/mailbox-daemon-state"
  run_bench "$build/bench/mailbox_bench" --target "unix:$state/m.sock" --testbed-env "$env_file" \
    --dovecot-sh "$testbed/dovecot.sh" --delay-proxy "$build/bench/delay_proxy" --daemon-pid "$daemon_pid" \
    "${mailbox_args[@]}"
  stop_daemon
  "$testbed/dovecot.sh" stop "$state/mailbox" >/dev/null 2>&1
fi

if runs token; then
  echo "== token_bench"
  # One dir for both servers (they share its CA). The oauth2 server also exits by itself
  # once this script is gone (MB_OAUTH2_EXIT_WITH_PID), should the trap never run.
  oauth_env=$(MB_OAUTH2_ACCESS_TTL=${MB_BENCH_TOKEN_TTL:-20} MB_OAUTH2_EXIT_WITH_PID=$$ \
    "$testbed/oauth2.sh" start "$state/oauth" | tail -n1)
  url=$(sed -n 's/^OAUTH2_INTROSPECT_URL_FOR_DOVECOT=//p' "$oauth_env")
  dovecot_env=$(MB_TESTBED_OAUTH2_INTROSPECTION_URL=$url "$testbed/dovecot.sh" start "$state/oauth" | tail -n1)
  # Fresh daemon: empty token cache. Its log goes to a file: every kicked session logs a
  # warning (READY -> BACKOFF); the tail is shown if anything fails.
  start_daemon "$state/t.sock" "$state/token-daemon-state" "$state/mailbrokerd-token.log"
  run_bench "$build/bench/token_bench" --target "unix:$state/t.sock" --oauth2-env "$oauth_env" \
    --testbed-env "$dovecot_env" --dovecot-sh "$testbed/dovecot.sh" "${token_args[@]}"
  stop_daemon
fi

if runs ews; then
  echo "== ews_bench"
  # The fake exits by itself once this script is gone (MB_EWS_EXIT_WITH_PID), should the
  # trap never run. NTLM only: what on-premises Exchange offers by default. mailbrokerd's
  # log goes to a file (shown if anything fails).
  ews_env=$(MB_EWS_AUTH=ntlm MB_EWS_EXIT_WITH_PID=$$ "$testbed/ews.sh" start "$state/ews" | tail -n1)
  start_daemon "$state/e.sock" "$state/ews-daemon-state" "$state/mailbrokerd-ews.log"
  run_bench "$build/bench/ews_bench" --target "unix:$state/e.sock" --ews-env "$ews_env" \
    --delay-proxy "$build/bench/delay_proxy" "${ews_args[@]}"
  stop_daemon
  "$testbed/ews.sh" stop "$state/ews" >/dev/null 2>&1
fi

if runs graph; then
  echo "== graph_bench"
  # One dir for both servers (they share its CA). Both exit by themselves once this script
  # is gone (MB_*_EXIT_WITH_PID), should the trap never run. The fake checks every token by
  # introspection at the OAuth2 server: the bots' and the session's tokens are real
  # client-credentials tokens. mailbrokerd's log goes to a file (shown if anything fails).
  # Tokens live an hour, as Microsoft's do (60-90 min): the testbed's default 5 s would
  # expire a direct bot's token in the middle of a throttled round.
  oauth_env=$(MB_OAUTH2_ACCESS_TTL=3600 MB_OAUTH2_EXIT_WITH_PID=$$ "$testbed/oauth2.sh" start "$state/graph" | tail -n1)
  introspect=$(sed -n 's/^OAUTH2_INTROSPECT_URL_FOR_DOVECOT=//p' "$oauth_env")
  graph_env=$(MB_GRAPH_EXIT_WITH_PID=$$ MB_GRAPH_OAUTH2_INTROSPECT_URL=$introspect \
    "$testbed/graph.sh" start "$state/graph" | tail -n1)
  start_daemon "$state/g.sock" "$state/graph-daemon-state" "$state/mailbrokerd-graph.log"
  run_bench "$build/bench/graph_bench" --target "unix:$state/g.sock" --graph-env "$graph_env" \
    --oauth2-env "$oauth_env" --delay-proxy "$build/bench/delay_proxy" "${graph_args[@]}"
  stop_daemon
  "$testbed/graph.sh" stop "$state/graph" >/dev/null 2>&1
  "$testbed/oauth2.sh" stop "$state/graph" >/dev/null 2>&1
fi

if [[ $which == scale ]]; then
  echo "== scale_bench"
  # Dovecot settings that hold 10,000 IMAPS connections here (TESTBED-NOTES.md): imap
  # processes of 100 connections each, 16 login processes of up to 5000 (TLS proxying),
  # every session may be the same user from one IP. dovecot.sh lifts its soft fd limit
  # to the hard one (~20,000 here); its children inherit it.
  env_file=$(MB_TESTBED_IMAP_CLIENT_LIMIT=100 MB_TESTBED_IMAP_PROCESS_LIMIT=400 MB_TESTBED_LOGIN_PROCESS_LIMIT=16 \
    MB_TESTBED_LOGIN_CLIENT_LIMIT=5000 MB_TESTBED_LOGIN_MIN_AVAIL=4 MB_TESTBED_MAX_USERIP_CONNECTIONS=20000 \
    "$testbed/dovecot.sh" start "$state/scale" | tail -n1)
  # The daemon raises its own soft fd limit from --max-sessions (up to the hard limit).
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  run_bench "$build/bench/scale_bench" --mailbrokerd "$build/daemon/mailbrokerd" --testbed-env "$env_file" \
    --work-dir "$state/scale-daemon" "${scale_args[@]}"
  "$testbed/dovecot.sh" stop "$state/scale" >/dev/null 2>&1
fi
