#!/usr/bin/env bash
# Throwaway SMTP submission server (smtp-server, by the Nodemailer project) for
# mailbroker's integration tests.
#
#   smtp.sh start   STATE_DIR   start (or restart) a server, prints STATE_DIR/smtp.env
#   smtp.sh stop    STATE_DIR   stop it, wait until it is gone
#   smtp.sh install [STATE_DIR] only install the node modules (npm ci) if needed
#
# Listens on 127.0.0.1 only, two free ports: SMTPS_PORT (implicit TLS) and SMTP_PORT
# (plain, STARTTLS offered and required before AUTH). TLS uses STATE_DIR/tls, the CA
# and certificate of the Dovecot testbed (made if missing): STATE_DIR may be shared
# with dovecot.sh and oauth2.sh. AUTH PLAIN and LOGIN are required before MAIL; the
# users are Dovecot's (from STATE_DIR/testbed.env) when it ran first, else alice, bob,
# carol and dave with fresh random passwords; either way smtp.env lists them.
# XOAUTH2 only with MB_SMTP_OAUTH2_INTROSPECTION_URL (e.g. the oauth2.sh's
# OAUTH2_INTROSPECT_URL_FOR_DOVECOT): a token is accepted when introspection says
# active and its username is the SASL user. MB_SMTP_AUTH_METHODS=LOGIN (or PLAIN)
# offers only that password mechanism. SIZE 10 MiB, 8BITMIME, SMTPUTF8.
# Recipient hooks: reject...@ → 550 5.1.1, defer...@ → 451 4.3.0. Every accepted
# message goes to SMTP_MESSAGES_DIR as NNNNNN.eml + NNNNNN.json (cleared on every
# start unless MB_SMTP_KEEP_MESSAGES=1). Read them with parse_eml.py (Python's email).
set -euo pipefail

readonly PROG=${0##*/}
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
readonly HERE
readonly APP_DIR=$HERE/smtp
readonly DEFAULT_USERS=(alice bob carol dave)
NODE=${MB_SMTP_NODE:-node}
NPM=${MB_SMTP_NPM:-npm}

# Progress goes to stderr: stdout is reserved for the env file path
# (ENV_FILE=$(smtp.sh start DIR | tail -n1)).
log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

now_ms() { echo $((${EPOCHREALTIME/[.,]/} / 1000)); }

set_paths() {
  local dir=$1 create=${2:-0}
  [[ -n $dir ]] || die "STATE_DIR must not be empty"
  if [[ $create == 1 ]]; then
    mkdir -p -- "$dir"
  elif [[ ! -d $dir ]]; then
    die "state dir '$dir' does not exist (run '$PROG start $dir' first)"
  fi
  STATE=$(cd -- "$dir" && pwd -P)
  # Same rule as dovecot.sh: the path ends up unquoted in a sourceable env file.
  [[ $STATE =~ ^[A-Za-z0-9._/+@,:-]+$ ]] ||
    die "state dir path '$STATE' contains characters this script does not quote (use [A-Za-z0-9._/+@,:-])"
  WORK=$STATE/smtp
  USERS_FILE=$WORK/users.json
  MESSAGES_DIR=$WORK/messages
  LOGFILE=$WORK/server.log
  PIDFILE=$WORK/server.pid
  ENV_FILE=$STATE/smtp.env
  TLS_DIR=$STATE/tls
}

# npm ci into smtp/node_modules when missing or made from another lock file (a stamp
# holds the lock's hash); a lock serialises concurrent starts. As in oauth2.sh.
ensure_deps() {
  command -v "$NODE" >/dev/null || die "node not found (Node.js >= 18.18 with npm is needed)"
  local lockfile=$APP_DIR/package-lock.json stamp=$APP_DIR/node_modules/.mb-lock-sha256 want
  [[ -r $lockfile ]] || die "$lockfile is missing"
  want=$(sha256sum <"$lockfile" | cut -c1-64)
  if [[ -f $stamp && $(<"$stamp") == "$want" ]]; then
    return 0
  fi
  command -v "$NPM" >/dev/null || die "npm not found (needed once to install $APP_DIR/node_modules)"
  command -v flock >/dev/null || die "flock (util-linux) is required"
  local mutex t0
  mutex=${TMPDIR:-/tmp}/mb-smtp-npm-$(printf '%s' "$APP_DIR" | sha256sum | cut -c1-12).lock
  exec 9>"$mutex"
  flock 9
  if [[ ! -f $stamp || $(<"$stamp") != "$want" ]]; then
    t0=$(now_ms)
    log "installing node modules: npm ci in $APP_DIR"
    (cd -- "$APP_DIR" && "$NPM" ci --prefer-offline --no-audit --no-fund 1>&2) ||
      die "npm ci failed in $APP_DIR"
    printf '%s\n' "$want" >"$stamp"
    log "npm ci took $(($(now_ms) - t0)) ms"
  fi
  flock -u 9
  exec 9>&-
}

# Prints the server's pid if the server of this state dir is alive.
server_pid() {
  local pid
  [[ -r $PIDFILE ]] || return 1
  pid=$(<"$PIDFILE")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  # Guard against a reused pid: ours runs server.mjs with our users file.
  [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "--users $USERS_FILE" || return 1
  printf '%s\n' "$pid"
}

do_stop() {
  local pid i
  pid=$(server_pid) || pid=
  if [[ -n $pid ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      [[ -e /proc/$pid ]] || break
      [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]] && break
      sleep 0.05
    done
    if [[ -e /proc/$pid && $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]; then
      log "server (pid $pid) did not exit within 5 s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    log "stopped smtp server (pid $pid)"
  fi
  rm -f -- "$PIDFILE"
}

# Fills USERS (names) and PASSWORDS (assoc): Dovecot's when its env file is there.
load_users() {
  local dovecot_env=$STATE/testbed.env u pw
  USERS=()
  if [[ -r $dovecot_env ]] && grep -q '^TESTBED_USERS=' "$dovecot_env"; then
    read -ra USERS <<<"$(sed -n 's/^TESTBED_USERS=//p' "$dovecot_env" | tail -n1)"
    for u in "${USERS[@]}"; do
      pw=$(sed -n "s/^${u^^}_PASSWORD=//p" "$dovecot_env" | tail -n1)
      [[ -n $pw ]] || die "$dovecot_env has no ${u^^}_PASSWORD"
      PASSWORDS[$u]=$pw
    done
    log "using the Dovecot testbed's users from $dovecot_env"
  else
    USERS=("${DEFAULT_USERS[@]}")
    for u in "${USERS[@]}"; do PASSWORDS[$u]=$(random_alnum 24); done
  fi
}

# Waits for the READY line; sets READY_LINE.
wait_ready() {
  local pid=$1 timeout=$2 deadline line
  deadline=$(($(now_ms) + timeout * 1000))
  while (($(now_ms) < deadline)); do
    line=$(grep -m1 '^READY ' "$LOGFILE" 2>/dev/null || true)
    if [[ -n $line ]]; then
      READY_LINE=$line
      return 0
    fi
    [[ -e /proc/$pid ]] || return 1
    sleep 0.02
  done
  return 1
}

cmd_start() {
  [[ $# -eq 1 ]] || usage
  set_paths "$1" 1
  local t0 timeout=${MB_SMTP_START_TIMEOUT:-15} url=${MB_SMTP_OAUTH2_INTROSPECTION_URL:-}
  t0=$(now_ms)
  command -v openssl >/dev/null || die "openssl is required"
  [[ $timeout =~ ^[1-9][0-9]*$ ]] || die "MB_SMTP_START_TIMEOUT must be a positive integer"
  if [[ -n $url && ! $url =~ ^https?://[^[:space:]\"\'\#\$%]+$ ]]; then
    die "MB_SMTP_OAUTH2_INTROSPECTION_URL must be http(s):// without spaces, quotes, #, \$ or %"
  fi

  if [[ -n $(server_pid || true) ]]; then
    log "a server from $STATE is running, stopping it first"
    do_stop
  fi
  ensure_deps
  mkdir -p -- "$WORK"
  # One CA for every testbed server.
  "$HERE/dovecot.sh" certs "$STATE" >/dev/null

  if [[ ${MB_SMTP_KEEP_MESSAGES:-0} != 1 ]]; then rm -rf -- "$MESSAGES_DIR"; fi
  mkdir -p -- "$MESSAGES_DIR"

  local -a USERS
  local -A PASSWORDS=()
  load_users
  local u json=""
  for u in "${USERS[@]}"; do
    [[ $u =~ ^[A-Za-z0-9._@-]+$ && ${PASSWORDS[$u]} =~ ^[A-Za-z0-9]+$ ]] ||
      die "user '$u' or its password has characters this script does not quote"
    json+="\"$u\":\"${PASSWORDS[$u]}\","
  done
  (umask 077 && printf '{%s}\n' "${json%,}" >"$USERS_FILE.tmp")
  mv -f -- "$USERS_FILE.tmp" "$USERS_FILE"

  [[ -f $LOGFILE ]] && mv -f -- "$LOGFILE" "$LOGFILE.prev"
  : >"$LOGFILE"
  local args=(
    "$APP_DIR/server.mjs" --users "$USERS_FILE" --messages "$MESSAGES_DIR"
    --cert "$TLS_DIR/server.crt" --key "$TLS_DIR/server.key"
    --host 127.0.0.1 --smtp-port "${MB_SMTP_PORT:-0}" --smtps-port "${MB_SMTPS_PORT:-0}"
  )
  [[ -n $url ]] && args+=(--introspection-url "$url")
  local methods=${MB_SMTP_AUTH_METHODS:-PLAIN,LOGIN}
  [[ $methods =~ ^(PLAIN|LOGIN)(,(PLAIN|LOGIN))?$ ]] || die "MB_SMTP_AUTH_METHODS must be PLAIN, LOGIN or PLAIN,LOGIN"
  args+=(--auth-methods "$methods")
  # Background, every standard stream redirected: a caller reading our stdout to EOF
  # must not wait for the server.
  "$NODE" "${args[@]}" </dev/null >>"$LOGFILE" 2>&1 &
  local pid=$!
  printf '%s\n' "$pid" >"$PIDFILE"

  READY_LINE=
  if ! wait_ready "$pid" "$timeout"; then
    log "--- $LOGFILE ---"
    tail -n 30 "$LOGFILE" >&2 || true
    do_stop || true
    die "smtp server did not come up within ${timeout}s"
  fi
  local smtp smtps
  smtp=$(sed -n 's/.* smtp_port=\([0-9]*\).*/\1/p' <<<"$READY_LINE")
  smtps=$(sed -n 's/.* smtps_port=\([0-9]*\).*/\1/p' <<<"$READY_LINE")
  [[ -n $smtp && -n $smtps ]] || die "cannot parse '$READY_LINE'"

  (
    umask 077 # contains passwords
    {
      echo "# mailbroker SMTP testbed -- generated by $PROG; sourceable KEY=VALUE"
      echo "SMTP_STATE_DIR=$STATE"
      echo "SMTP_PID=$pid"
      echo "SMTP_LOG=$LOGFILE"
      echo "SMTP_HOST=127.0.0.1"
      echo "SMTP_PORT=$smtp"
      echo "SMTPS_PORT=$smtps"
      echo "SMTP_CA_FILE=$TLS_DIR/ca.crt"
      echo "SMTP_MESSAGES_DIR=$MESSAGES_DIR"
      echo "SMTP_SIZE_LIMIT=10485760"
      echo "SMTP_XOAUTH2=$([[ -n $url ]] && echo yes || echo no)"
      echo "SMTP_USERS=$(IFS=,; echo "${USERS[*]}")"
      for u in "${USERS[@]}"; do echo "SMTP_${u^^}_PASSWORD=${PASSWORDS[$u]}"; done
    } >"$ENV_FILE.tmp"
  )
  mv -f -- "$ENV_FILE.tmp" "$ENV_FILE"
  log "smtp server up in $(($(now_ms) - t0)) ms (pid $pid): smtp=$smtp smtps=$smtps"
  printf '%s\n' "$ENV_FILE"
}

cmd_stop() {
  [[ $# -eq 1 ]] || usage
  set_paths "$1"
  if [[ -z $(server_pid || true) ]]; then
    log "no running smtp server for $STATE"
    rm -f -- "$PIDFILE"
    return 0
  fi
  do_stop
}

main() {
  [[ $# -ge 1 ]] || usage
  local cmd=$1
  shift
  case $cmd in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    install) [[ $# -le 1 ]] || usage; ensure_deps ;;  # a STATE_DIR is accepted and unused
    -h | --help | help) usage ;;
    *) log "unknown command '$cmd'"; usage ;;
  esac
}

main "$@"
