#!/usr/bin/env bash
# Throwaway fake Microsoft Graph (v1.0 mail API) server (graph/server.mjs) for mailbroker's tests.
#
#   graph.sh start   STATE_DIR                    start (or restart) a fake, prints STATE_DIR/graph.env
#   graph.sh stop    STATE_DIR                    stop it, wait until it is gone
#   graph.sh deliver STATE_DIR USER FILE [FOLDER] put an RFC 5322 message in a folder (inbox)
#   graph.sh token   STATE_DIR USER|--app         mint a static test token (all Mail permissions)
#   graph.sh requests STATE_DIR                   recorded requests as JSON
#   graph.sh counters STATE_DIR                   requests, connections, throttled, max in flight (JSON)
#   graph.sh delay   STATE_DIR MS                 hold every mailbox request MS ms (inside its slot)
#   graph.sh fail    STATE_DIR MODE [COUNT]       next COUNT requests: html502|truncated|huge|throttle
#   graph.sh reset   STATE_DIR                    empty mailboxes, recordings, counters, knobs
#   graph.sh reference-check STATE_DIR            run Microsoft's Graph JS client against it
#   graph.sh install                              only install the reference client's node modules
#
# Listens on 127.0.0.1 only: HTTPS for Graph (the testbed CA of STATE_DIR/tls, made by
# dovecot.sh certs and shared with the other testbeds), plain HTTP for the control API.
# Users alice bob carol dave erin and the shared mailbox shared (all @testlab.test).
# Knobs (environment):
#   MB_GRAPH_OAUTH2_INTROSPECT_URL=http://ID:SECRET@127.0.0.1:PORT/token/introspection
#                                    check tokens at the test OAuth2 server (oauth2.sh)
#   MB_GRAPH_OAUTH2_SCOPE=imap       scope or audience a token must carry (the OAuth2 testbed's scope)
#   MB_GRAPH_DELEGATES=shared:alice,shared:bob  OWNER:GRANTEE: GRANTEE's delegated token may open OWNER
#   MB_GRAPH_CONCURRENCY=4           requests in flight per app per mailbox before 429
#   MB_GRAPH_RETRY_AFTER=1           Retry-After (seconds) of those 429s
#   MB_GRAPH_EXIT_WITH_PID=PID       the fake exits when PID is gone
# See scripts/testbed/README.md ("Fake Microsoft Graph").
set -euo pipefail

readonly PROG=${0##*/}
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
readonly HERE
readonly APP_DIR=$HERE/graph
readonly REF_DIR=$APP_DIR/reference
readonly GRAPH_USERS_LIST=(alice bob carol dave erin shared)
NODE=${MB_GRAPH_NODE:-node}
NPM=${MB_GRAPH_NPM:-npm}

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

set_paths() {
  tb_state_dir "$1" "${2:-0}"
  WORK=$STATE/graph
  CONFIG=$WORK/config.json
  LOGFILE=$WORK/server.log
  PIDFILE=$WORK/server.pid
  ENV_FILE=$STATE/graph.env
  TLS_DIR=$STATE/tls
}

server_pid() { tb_server_pid "$PIDFILE" "$CONFIG"; }
do_stop() { tb_stop_server "$PIDFILE" "$CONFIG" "fake Graph server"; }
env_value() { sed -n "s/^$1=//p" "$ENV_FILE" 2>/dev/null | tail -n1; }

cmd_start() {
  set_paths "$1" 1
  local t0
  t0=$(tb_now_ms)
  command -v openssl >/dev/null || die "openssl is required"
  command -v "$NODE" >/dev/null || die "node not found (Node.js >= 18 is needed)"
  if [[ -n $(server_pid || true) ]]; then
    log "a fake Graph server from $STATE is running, stopping it first"
    do_stop
  fi
  mkdir -p -- "$WORK"
  # The shared testbed CA and server certificate (localhost, 127.0.0.1, ::1).
  "$HERE/dovecot.sh" certs "$STATE" >/dev/null

  local introspect=${MB_GRAPH_OAUTH2_INTROSPECT_URL:-} scope=${MB_GRAPH_OAUTH2_SCOPE:-imap}
  local delegates=${MB_GRAPH_DELEGATES:-shared:alice,shared:bob} concurrency=${MB_GRAPH_CONCURRENCY:-4}
  local retry_after=${MB_GRAPH_RETRY_AFTER:-1} timeout=${MB_GRAPH_START_TIMEOUT:-15}
  local exit_with=${MB_GRAPH_EXIT_WITH_PID:-null}
  [[ $concurrency =~ ^[1-9][0-9]*$ ]] || die "MB_GRAPH_CONCURRENCY must be a positive integer"
  [[ $retry_after =~ ^[0-9]+$ ]] || die "MB_GRAPH_RETRY_AFTER must be a whole number of seconds"
  [[ $exit_with =~ ^([0-9]+|null)$ ]] || die "MB_GRAPH_EXIT_WITH_PID must be a pid"
  [[ $scope =~ ^[A-Za-z0-9._:/-]*$ ]] || die "MB_GRAPH_OAUTH2_SCOPE: bad scope '$scope'"
  [[ $delegates =~ ^([a-z]+:[a-z]+(,[a-z]+:[a-z]+)*)?$ ]] || die "MB_GRAPH_DELEGATES must look like owner:grantee,..."

  # Introspection client credentials go in the config, not in a URL the fake might log.
  local client_id="" client_secret="" url=$introspect
  if [[ $introspect =~ ^(https?://)([^:@/]+):([^@/]+)@(.*)$ ]]; then
    client_id=${BASH_REMATCH[2]} client_secret=${BASH_REMATCH[3]} url=${BASH_REMATCH[1]}${BASH_REMATCH[4]}
  fi
  [[ -z $url || $url =~ ^https?://(127\.0\.0\.1|localhost|\[::1\]):[0-9]+/[A-Za-z0-9/_.-]*$ ]] ||
    die "MB_GRAPH_OAUTH2_INTROSPECT_URL must be a loopback http(s) URL"

  local users_json="" u d deleg_json=""
  for u in "${GRAPH_USERS_LIST[@]}"; do
    users_json+="{\"name\": \"$u\", \"address\": \"$u@testlab.test\", \"displayName\": \"${u^}\"},"
  done
  local -a dl=()
  local -A grants=()
  IFS=, read -ra dl <<<"$delegates"
  for d in "${dl[@]}"; do grants[${d%%:*}]+="\"${d##*:}\","; done
  for u in "${!grants[@]}"; do deleg_json+="\"$u\": [${grants[$u]%,}],"; done

  (
    umask 077 # the introspection client secret
    cat >"$CONFIG.tmp" <<JSON
{
  "host": "127.0.0.1",
  "graph_port": 0,
  "control_port": 0,
  "tls_cert": "$TLS_DIR/server.crt",
  "tls_key": "$TLS_DIR/server.key",
  "users": [${users_json%,}],
  "delegates": {${deleg_json%,}},
  "introspect_url": "$url",
  "introspect_client_id": "$client_id",
  "introspect_client_secret": "$client_secret",
  "required_scope": "$scope",
  "concurrency": $concurrency,
  "retry_after": $retry_after,
  "exit_with_pid": $exit_with
}
JSON
  )
  mv -f -- "$CONFIG.tmp" "$CONFIG"

  [[ -f $LOGFILE ]] && mv -f -- "$LOGFILE" "$LOGFILE.prev"
  : >"$LOGFILE"
  "$NODE" "$APP_DIR/server.mjs" --config "$CONFIG" </dev/null >>"$LOGFILE" 2>&1 &
  local pid=$!
  printf '%s\n' "$pid" >"$PIDFILE"
  READY_LINE=
  if ! tb_wait_ready "$LOGFILE" "$pid" "$timeout"; then
    log "--- $LOGFILE ---"
    tail -n 30 "$LOGFILE" >&2 || true
    do_stop || true
    die "fake Graph server did not come up within ${timeout}s"
  fi
  local port cport
  port=$(sed -n 's/.* graph_port=\([0-9]*\).*/\1/p' <<<"$READY_LINE")
  cport=$(sed -n 's/.* control_port=\([0-9]*\).*/\1/p' <<<"$READY_LINE")
  [[ -n $port && -n $cport ]] || die "cannot parse '$READY_LINE'"
  {
    echo "# mailbroker fake Microsoft Graph testbed -- generated by $PROG; sourceable KEY=VALUE"
    echo "GRAPH_STATE_DIR=$STATE"
    echo "GRAPH_PID=$pid"
    echo "GRAPH_LOG=$LOGFILE"
    echo "GRAPH_CONFIG=$CONFIG"
    echo "GRAPH_PORT=$port"
    echo "GRAPH_CONTROL_PORT=$cport"
    echo "GRAPH_BASE_URL=https://127.0.0.1:$port"
    echo "GRAPH_URL=https://127.0.0.1:$port/v1.0"
    echo "CONTROL_URL=http://127.0.0.1:$cport/_control"
    echo "CA_FILE=$TLS_DIR/ca.crt"
    echo "GRAPH_MAIL_DOMAIN=testlab.test"
    echo "GRAPH_USERS=$(IFS=,; echo "${GRAPH_USERS_LIST[*]}")"
    echo "GRAPH_SHARED_MAILBOX=shared@testlab.test"
    echo "GRAPH_DELEGATES=$delegates"
    echo "GRAPH_CONCURRENCY=$concurrency"
    echo "GRAPH_RETRY_AFTER=$retry_after"
    echo "GRAPH_OAUTH2_INTROSPECTION=$([[ -n $url ]] && echo yes || echo no)"
    echo "GRAPH_OAUTH2_SCOPE=$scope"
  } >"$ENV_FILE.tmp"
  mv -f -- "$ENV_FILE.tmp" "$ENV_FILE"
  log "fake Graph server up in $(($(tb_now_ms) - t0)) ms (pid $pid): https=$port control=$cport"
  printf '%s\n' "$ENV_FILE"
}

cmd_stop() {
  [[ $# -eq 1 ]] || usage
  set_paths "$1"
  if [[ -z $(server_pid || true) ]]; then
    log "no running fake Graph server for $STATE"
    rm -f -- "$PIDFILE"
    return 0
  fi
  do_stop
}

control_url() {
  server_pid >/dev/null || die "no running fake Graph server for $STATE"
  env_value CONTROL_URL
}

cmd_get() { # STATE_DIR ENDPOINT
  set_paths "$1"
  curl -fsS --max-time 10 "$(control_url)/$2"
}

cmd_post() { # STATE_DIR ENDPOINT?QUERY
  set_paths "$1"
  curl -sS --fail-with-body --max-time 10 -X POST "$(control_url)/$2"
}

cmd_deliver() {
  [[ $# -ge 3 && $# -le 4 ]] || usage
  set_paths "$1"
  local user=$2 file=$3 folder=${4:-inbox}
  [[ $user =~ ^[a-z]+$ ]] || die "USER must be a user name such as alice"
  [[ $folder =~ ^[A-Za-z0-9_=-]+$ ]] || die "FOLDER must be a well-known name (inbox, archive, ...) or a folder id"
  [[ -r $file ]] || die "cannot read '$file'"
  curl -sS --fail-with-body --max-time 10 -X POST --data-binary "@$file" \
    "$(control_url)/deliver?user=$user&folder=$folder"
}

cmd_token() {
  [[ $# -eq 2 ]] || usage
  if [[ $2 == --app ]]; then cmd_post "$1" "mint_token?app=1"; return; fi
  [[ $2 =~ ^[a-z]+$ ]] || die "USER must be a user name such as alice (or --app)"
  cmd_post "$1" "mint_token?user=$2"
}

cmd_reference_check() {
  [[ $# -eq 1 ]] || usage
  set_paths "$1"
  server_pid >/dev/null || die "no running fake Graph server for $STATE"
  tb_npm_ci "$REF_DIR" "$NODE" "$NPM"
  log "reference check: @microsoft/microsoft-graph-client"
  NODE_EXTRA_CA_CERTS=$TLS_DIR/ca.crt "$NODE" "$REF_DIR/graph_client_check.mjs" "$ENV_FILE"
}

main() {
  [[ $# -ge 1 ]] || usage
  local cmd=$1
  shift
  case $cmd in
    start) [[ $# -eq 1 ]] || usage; cmd_start "$1" ;;
    stop) cmd_stop "$@" ;;
    deliver) cmd_deliver "$@" ;;
    token) cmd_token "$@" ;;
    requests) [[ $# -eq 1 ]] || usage; cmd_get "$1" requests ;;
    counters) [[ $# -eq 1 ]] || usage; cmd_get "$1" counters ;;
    reset) [[ $# -eq 1 ]] || usage; cmd_post "$1" reset ;;
    delay) [[ $# -eq 2 && $2 =~ ^[0-9]+$ ]] || usage; cmd_post "$1" "delay?ms=$2" ;;
    fail)
      [[ ($# -eq 2 || $# -eq 3) && $2 =~ ^(html502|truncated|huge|throttle)$ && ${3:-1} =~ ^[0-9]+$ ]] || usage
      cmd_post "$1" "fail?mode=$2&count=${3:-1}" ;;
    reference-check) cmd_reference_check "$@" ;;
    install) [[ $# -eq 0 ]] || usage; tb_npm_ci "$REF_DIR" "$NODE" "$NPM" ;;
    -h | --help | help) usage ;;
    *) log "unknown command '$cmd'"; usage ;;
  esac
}

main "$@"
