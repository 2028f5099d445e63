#!/usr/bin/env bash
# Throwaway OAuth2 authorization server (oidc-provider) for mailbroker's tests.
#
#   oauth2.sh start   STATE_DIR   start (or restart) a server, prints STATE_DIR/oauth2.env
#   oauth2.sh restart STATE_DIR   start again with the previous ports and secrets
#                                 (all tokens are gone: they live in memory)
#   oauth2.sh stop    STATE_DIR   stop it, wait until it is gone
#   oauth2.sh stats   STATE_DIR   request counters as JSON (GET /_stats)
#   oauth2.sh install             only install the node modules (npm ci) if needed
#
# The server (oauth2/server.mjs) listens on 127.0.0.1 only: HTTPS for the OAuth
# endpoints, with the Dovecot testbed's CA/certificate from STATE_DIR/tls
# (created if missing), and plain HTTP for Dovecot's token introspection and
# the counters. STATE_DIR may be the Dovecot testbed's state dir: the files
# do not clash and both share one CA. See scripts/testbed/README.md.
set -euo pipefail

readonly PROG=${0##*/}
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
readonly HERE
readonly APP_DIR=$HERE/oauth2
NODE=${MB_OAUTH2_NODE:-node}
NPM=${MB_OAUTH2_NPM:-npm}

# Progress goes to stderr: stdout is reserved for the env file path so that
# callers can do ENV_FILE=$(oauth2.sh start DIR | tail -n1).
log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

now_ms() { echo $((${EPOCHREALTIME/[.,]/} / 1000)); }

# ---------------------------------------------------------------------------
# Paths
# ---------------------------------------------------------------------------

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
  WORK=$STATE/oauth2
  CONFIG=$WORK/config.json
  LOGFILE=$WORK/server.log
  PIDFILE=$WORK/server.pid
  ENV_FILE=$STATE/oauth2.env
  TLS_DIR=$STATE/tls
}

# ---------------------------------------------------------------------------
# node modules
# ---------------------------------------------------------------------------

# npm ci into oauth2/node_modules, but only when it is missing or was made
# from another package-lock.json (a stamp file holds the lock's hash, so the
# common case costs one sha256sum). A lock serialises concurrent starts.
ensure_deps() {
  command -v "$NODE" >/dev/null || die "node not found (Node.js >= 20.18 with npm is needed; see scripts/testbed/README.md)"
  local lockfile=$APP_DIR/package-lock.json stamp=$APP_DIR/node_modules/.mb-lock-sha256 want
  [[ -r $lockfile ]] || die "$lockfile is missing"
  want=$(sha256sum <"$lockfile" | cut -c1-64)
  if [[ -f $stamp && $(<"$stamp") == "$want" ]]; then
    return 0
  fi
  command -v "$NPM" >/dev/null || die "npm not found (needed once to install $APP_DIR/node_modules)"
  local mutex t0
  mutex=${TMPDIR:-/tmp}/mb-oauth2-npm-$(printf '%s' "$APP_DIR" | sha256sum | cut -c1-12).lock
  exec 9>"$mutex"
  flock 9
  if [[ ! -f $stamp || $(<"$stamp") != "$want" ]]; then
    t0=$(now_ms)
    log "installing node modules: npm ci in $APP_DIR"
    # npm's output goes to stderr: stdout is for the env file path.
    (cd -- "$APP_DIR" && "$NPM" ci --prefer-offline --no-audit --no-fund 1>&2) ||
      die "npm ci failed in $APP_DIR"
    printf '%s\n' "$want" >"$stamp"
    log "npm ci took $(($(now_ms) - t0)) ms"
  fi
  flock -u 9
  exec 9>&-
}

# ---------------------------------------------------------------------------
# Process handling
# ---------------------------------------------------------------------------

# Prints the server's pid if the server of this state dir is alive.
server_pid() {
  local pid
  [[ -r $PIDFILE ]] || return 1
  pid=$(<"$PIDFILE")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  # Guard against a reused pid: ours runs server.mjs with our config file.
  [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "--config $CONFIG" || return 1
  printf '%s\n' "$pid"
}

do_stop() {
  local pid i
  pid=$(server_pid) || pid=
  if [[ -n $pid ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      [[ -e /proc/$pid ]] || break
      # A zombie (not reaped yet by its parent) is gone for our purposes.
      [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]] && break
      sleep 0.05
    done
    if [[ -e /proc/$pid && $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]; then
      log "server (pid $pid) did not exit within 5 s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    log "stopped oauth2 server (pid $pid)"
  fi
  rm -f -- "$PIDFILE"
}

# ---------------------------------------------------------------------------
# start helpers
# ---------------------------------------------------------------------------

random_secret() { random_alnum 32; }

# Value of KEY in the previous env file (for restart).
prev_value() {
  sed -n "s/^$1=//p" "$ENV_FILE" | tail -n1
}

positive_int() { # NAME VALUE
  [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive integer, got '$2'"
}

write_config() {
  local cc_secret=$1 dovecot_secret=$2 cc_user=$3 accounts=$4 ropc_secret=$5 account_passwords=$6
  local accounts_json passwords_json a
  local -a list
  IFS=, read -ra list <<<"$accounts"
  for a in "${list[@]}"; do accounts_json+="\"$a\","; done
  accounts_json="[${accounts_json%,}]"
  # USER:PASSWORD,... (names and passwords have no ':' ',' or '"').
  IFS=, read -ra list <<<"$account_passwords"
  for a in "${list[@]}"; do passwords_json+="\"${a%%:*}\": \"${a#*:}\","; done
  passwords_json="{${passwords_json%,}}"
  (
    umask 077 # contains client secrets
    cat >"$CONFIG.tmp" <<EOF
{
  "accounts": $accounts_json,
  "passwords": $passwords_json,
  "scopes": ["imap"],
  "clients": [
    {
      "client_id": "mailbroker-cc",
      "client_secret": "$cc_secret",
      "token_endpoint_auth_method": "client_secret_basic",
      "grant_types": ["client_credentials"],
      "response_types": [],
      "redirect_uris": [],
      "scope": "imap",
      "mail_user": "$cc_user"
    },
    {
      "client_id": "mailbroker-pkce",
      "application_type": "native",
      "token_endpoint_auth_method": "none",
      "grant_types": ["authorization_code", "refresh_token"],
      "response_types": ["code"],
      "redirect_uris": ["http://127.0.0.1/callback", "http://[::1]/callback", "http://localhost/callback"],
      "scope": "openid offline_access imap"
    },
    {
      "client_id": "mailbroker-ropc",
      "client_secret": "$ropc_secret",
      "token_endpoint_auth_method": "client_secret_basic",
      "grant_types": ["password"],
      "response_types": [],
      "redirect_uris": [],
      "scope": "imap"
    },
    {
      "client_id": "mailbroker-ropc-public",
      "application_type": "native",
      "token_endpoint_auth_method": "none",
      "grant_types": ["password"],
      "response_types": [],
      "redirect_uris": [],
      "scope": "imap"
    },
    {
      "client_id": "dovecot",
      "client_secret": "$dovecot_secret",
      "token_endpoint_auth_method": "client_secret_basic",
      "grant_types": [],
      "response_types": [],
      "redirect_uris": []
    }
  ]
}
EOF
  )
  mv -f -- "$CONFIG.tmp" "$CONFIG"
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

cmd_start() { # STATE_DIR [reuse]
  local reuse=${2:-0}
  set_paths "$1" 1
  local t0
  t0=$(now_ms)
  command -v flock >/dev/null || die "flock (util-linux) is required"
  command -v openssl >/dev/null || die "openssl is required"

  if [[ -n $(server_pid || true) ]]; then
    log "a server from $STATE is running, stopping it first"
    do_stop
  fi

  ensure_deps
  mkdir -p -- "$WORK"
  # Share the Dovecot testbed's CA and server certificate (localhost,
  # 127.0.0.1, ::1): one CA file for every testbed server.
  "$HERE/dovecot.sh" certs "$STATE" >/dev/null

  local access_ttl=${MB_OAUTH2_ACCESS_TTL:-5} refresh_ttl=${MB_OAUTH2_REFRESH_TTL:-86400}
  local rotate=${MB_OAUTH2_ROTATE_REFRESH:-yes} timeout=${MB_OAUTH2_START_TIMEOUT:-15}
  local cc_user=${MB_OAUTH2_CC_MAIL_USER:-alice} accounts=${MB_OAUTH2_ACCOUNTS:-alice,bob,carol,dave}
  local https_port=${MB_OAUTH2_HTTPS_PORT:-0} http_port=${MB_OAUTH2_HTTP_PORT:-0}
  positive_int MB_OAUTH2_ACCESS_TTL "$access_ttl"
  positive_int MB_OAUTH2_REFRESH_TTL "$refresh_ttl"
  positive_int MB_OAUTH2_START_TIMEOUT "$timeout"
  [[ $rotate =~ ^(yes|no)$ ]] || die "MB_OAUTH2_ROTATE_REFRESH must be yes or no"
  [[ $cc_user =~ ^[A-Za-z0-9._@-]+$ ]] || die "MB_OAUTH2_CC_MAIL_USER: bad user name '$cc_user'"
  [[ $accounts =~ ^[A-Za-z0-9._@,\ -]+$ ]] || die "MB_OAUTH2_ACCOUNTS: bad user names '$accounts'"
  # Comma-separated in the env file (a space would break 'source').
  local -a names=() split
  local name
  IFS=', ' read -ra split <<<"$accounts"
  for name in "${split[@]}"; do [[ -n $name ]] && names+=("$name"); done
  ((${#names[@]} > 0)) || die "MB_OAUTH2_ACCOUNTS is empty"
  accounts=$(IFS=,; echo "${names[*]}")
  [[ $https_port =~ ^[0-9]+$ && $http_port =~ ^[0-9]+$ ]] || die "MB_OAUTH2_HTTPS_PORT/MB_OAUTH2_HTTP_PORT must be port numbers"

  local cc_secret dovecot_secret ropc_secret account_passwords
  if [[ $reuse == 1 ]]; then
    [[ -r $ENV_FILE ]] || die "no $ENV_FILE to restart from (use '$PROG start $STATE')"
    https_port=$(prev_value OAUTH2_HTTPS_PORT) http_port=$(prev_value OAUTH2_HTTP_PORT)
    cc_secret=$(prev_value OAUTH2_CC_CLIENT_SECRET) dovecot_secret=$(prev_value OAUTH2_DOVECOT_CLIENT_SECRET)
    ropc_secret=$(prev_value OAUTH2_ROPC_CLIENT_SECRET) account_passwords=$(prev_value OAUTH2_ACCOUNT_PASSWORDS)
    [[ -n $https_port && -n $http_port && -n $cc_secret && -n $dovecot_secret && -n $ropc_secret &&
      -n $account_passwords ]] ||
      die "$ENV_FILE lacks ports or secrets; use '$PROG start $STATE'"
  else
    cc_secret=$(random_secret) dovecot_secret=$(random_secret) ropc_secret=$(random_secret)
    # One password per account for the password grant (ROPC): USER:PASSWORD,...
    account_passwords=
    for name in "${names[@]}"; do account_passwords+="$name:$(random_alnum 24),"; done
    account_passwords=${account_passwords%,}
  fi
  write_config "$cc_secret" "$dovecot_secret" "$cc_user" "$accounts" "$ropc_secret" "$account_passwords"

  [[ -f $LOGFILE ]] && mv -f -- "$LOGFILE" "$LOGFILE.prev"
  : >"$LOGFILE"

  local args=(
    "$APP_DIR/server.mjs" --config "$CONFIG"
    --cert "$TLS_DIR/server.crt" --key "$TLS_DIR/server.key"
    --host 127.0.0.1 --https-port "$https_port" --http-port "$http_port"
    --access-ttl "$access_ttl" --refresh-ttl "$refresh_ttl" --rotate-refresh "$rotate"
  )
  if [[ -n ${MB_OAUTH2_EXIT_WITH_PID:-} ]]; then
    args+=(--exit-with-pid "$MB_OAUTH2_EXIT_WITH_PID")
  fi
  # In the background with every standard stream redirected: a caller that
  # reads our stdout to EOF must not wait for the server.
  "$NODE" "${args[@]}" </dev/null >>"$LOGFILE" 2>&1 &
  local pid=$!
  printf '%s\n' "$pid" >"$PIDFILE"

  READY_LINE=
  if ! wait_ready "$pid" "$timeout"; then
    log "--- $LOGFILE ---"
    tail -n 30 "$LOGFILE" >&2 || true
    do_stop || true
    die "oauth2 server did not come up within ${timeout}s"
  fi
  local https http issuer
  https=$(sed -n 's/.* https_port=\([0-9]*\).*/\1/p' <<<"$READY_LINE")
  http=$(sed -n 's/.* http_port=\([0-9]*\).*/\1/p' <<<"$READY_LINE")
  issuer=$(sed -n 's/.* issuer=\([^ ]*\).*/\1/p' <<<"$READY_LINE")
  [[ -n $https && -n $http && -n $issuer ]] || die "cannot parse '$READY_LINE'"

  local plain=http://127.0.0.1:$http
  (
    umask 077 # contains secrets
    cat >"$ENV_FILE.tmp" <<EOF
# mailbroker OAuth2 testbed -- generated by $PROG; sourceable KEY=VALUE
OAUTH2_STATE_DIR=$STATE
OAUTH2_PID=$pid
OAUTH2_LOG=$LOGFILE
OAUTH2_CONFIG=$CONFIG
OAUTH2_CA_FILE=$TLS_DIR/ca.crt
OAUTH2_HTTPS_PORT=$https
OAUTH2_HTTP_PORT=$http
OAUTH2_ISSUER=$issuer
OAUTH2_DISCOVERY_URL=$issuer/.well-known/openid-configuration
OAUTH2_TOKEN_URL=$issuer/token
OAUTH2_AUTHORIZE_URL=$issuer/auth
OAUTH2_REVOKE_URL=$issuer/token/revocation
OAUTH2_INTROSPECT_URL=$issuer/token/introspection
OAUTH2_JWKS_URL=$issuer/jwks
OAUTH2_INTROSPECT_URL_FOR_DOVECOT=http://dovecot:$dovecot_secret@127.0.0.1:$http/token/introspection
OAUTH2_STATS_URL=$plain/_stats
OAUTH2_RESET_STATS_URL=$plain/_reset_stats
OAUTH2_SCOPE=imap
OAUTH2_ACCOUNTS=$accounts
OAUTH2_CC_CLIENT_ID=mailbroker-cc
OAUTH2_CC_CLIENT_SECRET=$cc_secret
OAUTH2_CC_MAIL_USER=$cc_user
OAUTH2_PKCE_CLIENT_ID=mailbroker-pkce
OAUTH2_PKCE_REDIRECT_URI=http://127.0.0.1/callback
OAUTH2_ROPC_CLIENT_ID=mailbroker-ropc
OAUTH2_ROPC_CLIENT_SECRET=$ropc_secret
OAUTH2_ROPC_PUBLIC_CLIENT_ID=mailbroker-ropc-public
OAUTH2_ACCOUNT_PASSWORDS=$account_passwords
OAUTH2_DOVECOT_CLIENT_ID=dovecot
OAUTH2_DOVECOT_CLIENT_SECRET=$dovecot_secret
OAUTH2_ACCESS_TTL=$access_ttl
OAUTH2_REFRESH_TTL=$refresh_ttl
OAUTH2_ROTATE_REFRESH=$rotate
EOF
  )
  mv -f -- "$ENV_FILE.tmp" "$ENV_FILE"
  log "oauth2 server up in $(($(now_ms) - t0)) ms (pid $pid): https=$https http=$http"
  printf '%s\n' "$ENV_FILE"
}

cmd_stop() {
  [[ $# -eq 1 ]] || usage
  set_paths "$1"
  if [[ -z $(server_pid || true) ]]; then
    log "no running oauth2 server for $STATE"
    rm -f -- "$PIDFILE"
    return 0
  fi
  do_stop
}

cmd_stats() {
  [[ $# -eq 1 ]] || usage
  set_paths "$1"
  server_pid >/dev/null || die "no running oauth2 server for $STATE"
  local url
  url=$(prev_value OAUTH2_STATS_URL)
  curl -fsS --max-time 5 "$url"
}

main() {
  [[ $# -ge 1 ]] || usage
  local cmd=$1
  shift
  case $cmd in
    start) [[ $# -eq 1 ]] || usage; cmd_start "$1" 0 ;;
    restart) [[ $# -eq 1 ]] || usage; cmd_start "$1" 1 ;;
    stop) cmd_stop "$@" ;;
    stats) cmd_stats "$@" ;;
    install) [[ $# -eq 0 ]] || usage; ensure_deps ;;
    -h | --help | help) usage ;;
    *) log "unknown command '$cmd'"; usage ;;
  esac
}

main "$@"
