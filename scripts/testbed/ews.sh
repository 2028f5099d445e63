#!/usr/bin/env bash
# Throwaway fake Exchange Web Services server (ews/fake_ews.py) for mailbroker's tests.
#
#   ews.sh start   STATE_DIR                 start (or restart) a fake, prints STATE_DIR/ews.env
#   ews.sh stop    STATE_DIR                 stop it, wait until it is gone
#   ews.sh deliver STATE_DIR USER FILE [FOLDER]  put an RFC 5322 message in a folder (INBOX)
#   ews.sh requests STATE_DIR                recorded requests as JSON
#   ews.sh counters STATE_DIR                requests, TCP connections, NTLM handshakes (JSON)
#   ews.sh busy    STATE_DIR N MS            the next N EWS requests get ErrorServerBusy (back off MS)
#   ews.sh reset   STATE_DIR                 empty mailboxes, recordings, counters
#   ews.sh reference-check STATE_DIR [exchangelib|ewsjs|all]  run the reference EWS clients
#   ews.sh install                           only install the reference client's node modules
#
# Listens on 127.0.0.1 only: HTTPS for EWS + Autodiscover, plain HTTP for the control API.
# TLS: the testbed CA of STATE_DIR/tls (dovecot.sh certs; shared with the other testbeds) and
# a server certificate for localhost, 127.0.0.1, ::1, testlab.test, autodiscover.testlab.test.
# Users alice bob carol dave erin (fresh random passwords) and the impersonation account svc;
# Windows domain TESTLAB, mail domain testlab.test. Knobs (environment):
#   MB_EWS_AUTH=basic,ntlm[,bearer]   schemes offered (bearer is added when an OAuth2 server is given)
#   MB_EWS_OAUTH2_INTROSPECT_URL=http://ID:SECRET@127.0.0.1:PORT/token/introspection
#   MB_EWS_OAUTH2_SCOPE=SCOPE         scope (or audience) a bearer token must carry (default imap)
#   MB_EWS_SERVER_VERSION=Exchange2013_SP1   (Exchange2007_SP1 .. Exchange2013_SP1)
#   MB_EWS_DELEGATES=bob:alice        OWNER:GRANTEE,...: GRANTEE may open OWNER's folders
#   MB_EWS_MINUTE_SECONDS=60          length of a subscription "minute" (tests shorten it)
#   MB_EWS_KEEPALIVE_SECONDS=40       GetStreamingEvents keep-alive interval
#   MB_EWS_EXIT_WITH_PID=PID          the fake exits when PID is gone
#   MB_EWS_PUBLIC_HOST=127.0.0.1      host of the EwsUrl (and loop RedirectUrl) Autodiscover answers
#                                     with: 127.0.0.1, localhost or a name of the certificate
# See scripts/testbed/README.md ("Fake EWS server").
set -euo pipefail

readonly PROG=${0##*/}
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
readonly HERE
readonly APP_DIR=$HERE/ews
readonly REF_DIR=$APP_DIR/reference
readonly EWS_USERS_LIST=(alice bob carol dave erin svc)
NODE=${MB_EWS_NODE:-node}
NPM=${MB_EWS_NPM:-npm}
# The distribution's python: the fake needs python3-defusedxml, the check python3-exchangelib
# (Debian packages), which a pyenv/asdf python first in PATH does not have.
PYTHON=${MB_EWS_PYTHON:-}
if [[ -z $PYTHON ]]; then
  if [[ -x /usr/bin/python3 ]]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
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
  WORK=$STATE/ews
  CONFIG=$WORK/config.json
  LOGFILE=$WORK/server.log
  PIDFILE=$WORK/server.pid
  USERS_FILE=$WORK/users.json
  ENV_FILE=$STATE/ews.env
  TLS_DIR=$STATE/tls
  EWS_TLS_DIR=$WORK/tls
}

prev_value() { sed -n "s/^$1=//p" "$ENV_FILE" 2>/dev/null | tail -n1; }

# ---------------------------------------------------------------------------
# node modules of the ews-javascript-api reference client (like oauth2.sh)
# ---------------------------------------------------------------------------
ensure_deps() {
  command -v "$NODE" >/dev/null || die "node not found (Node.js >= 18 with npm is needed for the ews-javascript-api check)"
  local lockfile=$REF_DIR/package-lock.json stamp=$REF_DIR/node_modules/.mb-lock-sha256 want
  [[ -r $lockfile ]] || die "$lockfile is missing"
  want=$(sha256sum <"$lockfile" | cut -c1-64)
  if [[ -f $stamp && $(<"$stamp") == "$want" ]]; then
    return 0
  fi
  command -v "$NPM" >/dev/null || die "npm not found (needed once to install $REF_DIR/node_modules)"
  local mutex t0
  mutex=${TMPDIR:-/tmp}/mb-ews-npm-$(printf '%s' "$REF_DIR" | sha256sum | cut -c1-12).lock
  exec 9>"$mutex"
  flock 9
  if [[ ! -f $stamp || $(<"$stamp") != "$want" ]]; then
    t0=$(now_ms)
    log "installing node modules: npm ci in $REF_DIR"
    (cd -- "$REF_DIR" && "$NPM" ci --prefer-offline --no-audit --no-fund 1>&2) ||
      die "npm ci failed in $REF_DIR"
    printf '%s\n' "$want" >"$stamp"
    log "npm ci took $(($(now_ms) - t0)) ms"
  fi
  flock -u 9
  exec 9>&-
}

# ---------------------------------------------------------------------------
# Process handling
# ---------------------------------------------------------------------------
server_pid() {
  local pid
  [[ -r $PIDFILE ]] || return 1
  pid=$(<"$PIDFILE")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
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
      [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]] && break
      sleep 0.05
    done
    if [[ -e /proc/$pid && $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]; then
      log "server (pid $pid) did not exit within 5 s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    log "stopped fake EWS server (pid $pid)"
  fi
  rm -f -- "$PIDFILE"
}

# A server certificate of our own (more names than the shared one: Autodiscover needs
# autodiscover.<domain> and <domain>), signed by the shared testbed CA.
make_ews_cert() {
  local crt=$EWS_TLS_DIR/server.crt key=$EWS_TLS_DIR/server.key
  if [[ -s $crt && -s $key ]] && openssl x509 -in "$crt" -noout -checkend 86400 >/dev/null 2>&1 &&
    openssl verify -CAfile "$TLS_DIR/ca.crt" "$crt" >/dev/null 2>&1; then
    return 0
  fi
  mkdir -p -- "$EWS_TLS_DIR"
  (
    umask 077
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$key" \
      -out "$EWS_TLS_DIR/server.csr" -subj "/CN=exch01.testlab.test" 2>/dev/null
    cat >"$EWS_TLS_DIR/server.ext" <<'EXT'
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1, DNS:testlab.test, DNS:autodiscover.testlab.test, DNS:exch01.testlab.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
EXT
    openssl x509 -req -in "$EWS_TLS_DIR/server.csr" -days 30 -CA "$TLS_DIR/ca.crt" -CAkey "$TLS_DIR/ca.key" \
      -CAcreateserial -extfile "$EWS_TLS_DIR/server.ext" -out "$crt" 2>/dev/null
  ) || die "openssl failed to create the EWS server certificate"
  chmod 0644 "$crt"
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

json_list() { # a,b,c -> ["a","b","c"]
  local out="" x
  local -a items
  IFS=, read -ra items <<<"$1"
  for x in "${items[@]}"; do [[ -n $x ]] && out+="\"$x\","; done
  printf '[%s]' "${out%,}"
}

cmd_start() {
  set_paths "$1" 1
  local t0
  t0=$(now_ms)
  command -v openssl >/dev/null || die "openssl is required"
  "$PYTHON" -c 'import defusedxml' 2>/dev/null || die "$PYTHON lacks defusedxml (apt-get install python3-defusedxml)"
  if [[ -n $(server_pid || true) ]]; then
    log "a fake EWS server from $STATE is running, stopping it first"
    do_stop
  fi
  mkdir -p -- "$WORK"
  "$HERE/dovecot.sh" certs "$STATE" >/dev/null
  make_ews_cert

  local auth=${MB_EWS_AUTH:-basic,ntlm} introspect=${MB_EWS_OAUTH2_INTROSPECT_URL:-}
  local scope=${MB_EWS_OAUTH2_SCOPE:-imap} version=${MB_EWS_SERVER_VERSION:-Exchange2013_SP1}
  local delegates=${MB_EWS_DELEGATES:-bob:alice} minute=${MB_EWS_MINUTE_SECONDS:-60}
  local keepalive=${MB_EWS_KEEPALIVE_SECONDS:-40} timeout=${MB_EWS_START_TIMEOUT:-15}
  local public_host=${MB_EWS_PUBLIC_HOST:-127.0.0.1}
  [[ $public_host =~ ^(127\.0\.0\.1|localhost|testlab\.test|autodiscover\.testlab\.test|exch01\.testlab\.test)$ ]] ||
    die "MB_EWS_PUBLIC_HOST must be 127.0.0.1, localhost or a name of the certificate (testlab.test, autodiscover.testlab.test, exch01.testlab.test)"
  [[ $auth =~ ^(basic|ntlm|bearer)(,(basic|ntlm|bearer))*$ ]] || die "MB_EWS_AUTH must be a comma list of basic, ntlm, bearer"
  [[ $minute =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "MB_EWS_MINUTE_SECONDS must be a number"
  [[ $keepalive =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "MB_EWS_KEEPALIVE_SECONDS must be a number"
  [[ $delegates =~ ^([a-z]+:[a-z]+(,[a-z]+:[a-z]+)*)?$ ]] || die "MB_EWS_DELEGATES must look like owner:grantee,..."
  if [[ -n $introspect && $auth != *bearer* ]]; then auth+=,bearer; fi

  # Introspection client credentials go in the config, not in the URL the fake logs.
  local client_id="" client_secret="" url=$introspect
  if [[ $introspect =~ ^(https?://)([^:@/]+):([^@/]+)@(.*)$ ]]; then
    client_id=${BASH_REMATCH[2]} client_secret=${BASH_REMATCH[3]} url=${BASH_REMATCH[1]}${BASH_REMATCH[4]}
  fi

  local users_json="" u pw deleg_json="" d owner grantee
  local -A passwords=()
  for u in "${EWS_USERS_LIST[@]}"; do
    pw=$(random_alnum 24)
    passwords[$u]=$pw
    users_json+="{\"name\": \"$u\", \"password\": \"$pw\", \"address\": \"$u@testlab.test\", \"display_name\": \"${u^}\"},"
  done
  local -a dl=()
  IFS=, read -ra dl <<<"$delegates"
  declare -A grants=()
  for d in "${dl[@]}"; do
    owner=${d%%:*} grantee=${d##*:}
    grants[$owner]+="\"$grantee\","
  done
  for owner in "${!grants[@]}"; do deleg_json+="\"$owner\": [${grants[$owner]%,}],"; done

  (
    umask 077 # passwords and the introspection secret
    cat >"$CONFIG.tmp" <<JSON
{
  "host": "127.0.0.1",
  "public_host": "$public_host",
  "ews_port": 0,
  "control_port": 0,
  "tls_cert": "$EWS_TLS_DIR/server.crt",
  "tls_key": "$EWS_TLS_DIR/server.key",
  "domain": "TESTLAB",
  "dns_domain": "testlab.test",
  "mail_domain": "testlab.test",
  "server_version": "$version",
  "auth": $(json_list "$auth"),
  "users": [${users_json%,}],
  "impersonation_accounts": ["svc"],
  "delegates": {${deleg_json%,}},
  "oauth2_introspect_url": "$url",
  "oauth2_client_id": "$client_id",
  "oauth2_client_secret": "$client_secret",
  "oauth2_scope": "$scope",
  "minute_seconds": $minute,
  "streaming_keepalive_seconds": $keepalive,
  "exit_with_pid": ${MB_EWS_EXIT_WITH_PID:-null}
}
JSON
    printf '{\n' >"$USERS_FILE.tmp"
    local first=1
    for u in "${EWS_USERS_LIST[@]}"; do
      ((first)) || printf ',\n' >>"$USERS_FILE.tmp"
      first=0
      printf '  "%s": {"password": "%s", "address": "%s@testlab.test"}' "$u" "${passwords[$u]}" "$u" >>"$USERS_FILE.tmp"
    done
    printf '\n}\n' >>"$USERS_FILE.tmp"
  )
  mv -f -- "$CONFIG.tmp" "$CONFIG"
  mv -f -- "$USERS_FILE.tmp" "$USERS_FILE"

  [[ -f $LOGFILE ]] && mv -f -- "$LOGFILE" "$LOGFILE.prev"
  : >"$LOGFILE"
  "$PYTHON" "$APP_DIR/fake_ews.py" --config "$CONFIG" </dev/null >>"$LOGFILE" 2>&1 &
  local pid=$!
  printf '%s\n' "$pid" >"$PIDFILE"
  READY_LINE=
  if ! wait_ready "$pid" "$timeout"; then
    log "--- $LOGFILE ---"
    tail -n 30 "$LOGFILE" >&2 || true
    do_stop || true
    die "fake EWS server did not come up within ${timeout}s"
  fi
  local port cport
  port=$(sed -n 's/.* ews_port=\([0-9]*\).*/\1/p' <<<"$READY_LINE")
  cport=$(sed -n 's/.* control_port=\([0-9]*\).*/\1/p' <<<"$READY_LINE")
  [[ -n $port && -n $cport ]] || die "cannot parse '$READY_LINE'"

  (
    umask 077 # passwords
    {
      echo "# mailbroker fake EWS testbed -- generated by $PROG; sourceable KEY=VALUE"
      echo "EWS_STATE_DIR=$STATE"
      echo "EWS_PID=$pid"
      echo "EWS_LOG=$LOGFILE"
      echo "EWS_CONFIG=$CONFIG"
      echo "EWS_PORT=$port"
      echo "EWS_CONTROL_PORT=$cport"
      echo "EWS_URL=https://127.0.0.1:$port/EWS/Exchange.asmx"
      echo "AUTODISCOVER_URL=https://127.0.0.1:$port/autodiscover/autodiscover.xml"
      echo "CONTROL_URL=http://127.0.0.1:$cport/_control"
      echo "CA_FILE=$TLS_DIR/ca.crt"
      echo "EWS_DOMAIN=TESTLAB"
      echo "EWS_DNS_DOMAIN=testlab.test"
      echo "EWS_MAIL_DOMAIN=testlab.test"
      echo "EWS_SERVER_VERSION=$version"
      echo "EWS_AUTH=$auth"
      echo "EWS_USERS=$(IFS=,; echo "${EWS_USERS_LIST[*]}")"
      echo "EWS_USERS_FILE=$USERS_FILE"
      echo "EWS_IMPERSONATION_ACCOUNT=svc"
      echo "EWS_DELEGATES=$delegates"
      echo "EWS_OAUTH2_SCOPE=$scope"
      echo "EWS_CLIENT_OPENSSL_CONF=$APP_DIR/openssl-legacy.cnf"
      for u in "${EWS_USERS_LIST[@]}"; do echo "${u^^}_PASSWORD=${passwords[$u]}"; done
    } >"$ENV_FILE.tmp"
  )
  mv -f -- "$ENV_FILE.tmp" "$ENV_FILE"
  log "fake EWS server up in $(($(now_ms) - t0)) ms (pid $pid): ews=$port control=$cport"
  printf '%s\n' "$ENV_FILE"
}

control_url() {
  local url
  url=$(prev_value CONTROL_URL)
  [[ -n $url ]] || die "no CONTROL_URL in $ENV_FILE"
  server_pid >/dev/null || die "no running fake EWS server for $STATE"
  printf '%s\n' "$url"
}

cmd_stop() {
  [[ $# -eq 1 ]] || usage
  set_paths "$1"
  if [[ -z $(server_pid || true) ]]; then
    log "no running fake EWS server for $STATE"
    rm -f -- "$PIDFILE"
    return 0
  fi
  do_stop
}

cmd_deliver() {
  [[ $# -ge 3 && $# -le 4 ]] || usage
  set_paths "$1"
  local user=$2 file=$3 folder=${4:-INBOX} url
  [[ -r $file ]] || die "cannot read message file '$file'"
  url=$(control_url)
  # --url-query (curl >= 7.87) URL-encodes the folder name into the query.
  curl -fsS --max-time 10 --data-binary "@$file" -H 'Content-Type: message/rfc822' \
    --url-query "user=$user" --url-query "folder=$folder" "$url/deliver" ||
    die "deliver failed (user '$user', folder '$folder')"
}

cmd_get() { # STATE_DIR ENDPOINT
  set_paths "$1"
  local url
  url=$(control_url)
  curl -fsS --max-time 10 "$url/$2"
}

cmd_post() { # STATE_DIR ENDPOINT?QUERY
  set_paths "$1"
  local url
  url=$(control_url)
  curl -fsS --max-time 10 -X POST "$url/$2"
}

cmd_reference_check() {
  [[ $# -ge 1 && $# -le 2 ]] || usage
  set_paths "$1"
  local which=${2:-all} rc=0
  server_pid >/dev/null || die "no running fake EWS server for $STATE"
  [[ $which =~ ^(exchangelib|ewsjs|all)$ ]] || die "reference-check: client must be exchangelib, ewsjs or all"
  # exchangelib's NTLM (requests-ntlm -> ntlm-auth) needs MD4 from OpenSSL's legacy provider;
  # ews-javascript-api's NTLM (@ewsjs/ntlm-client) carries its own MD4.
  local ssl_conf=$APP_DIR/openssl-legacy.cnf
  if [[ $which == exchangelib || $which == all ]]; then
    log "reference check: exchangelib ($("$PYTHON" -c 'import exchangelib; print(exchangelib.__version__)' 2>/dev/null || echo missing))"
    OPENSSL_CONF=$ssl_conf REQUESTS_CA_BUNDLE=$TLS_DIR/ca.crt \
      "$PYTHON" "$REF_DIR/exchangelib_check.py" "$ENV_FILE" || rc=1
  fi
  if [[ $which == ewsjs || $which == all ]]; then
    ensure_deps
    log "reference check: ews-javascript-api"
    NODE_EXTRA_CA_CERTS=$TLS_DIR/ca.crt \
      "$NODE" "$REF_DIR/ewsjs_check.mjs" "$ENV_FILE" || rc=1
  fi
  return $rc
}

main() {
  [[ $# -ge 1 ]] || usage
  local cmd=$1
  shift
  case $cmd in
    start) [[ $# -eq 1 ]] || usage; cmd_start "$1" ;;
    stop) cmd_stop "$@" ;;
    deliver) cmd_deliver "$@" ;;
    requests) [[ $# -eq 1 ]] || usage; cmd_get "$1" requests ;;
    counters) [[ $# -eq 1 ]] || usage; cmd_get "$1" counters ;;
    reset) [[ $# -eq 1 ]] || usage; cmd_post "$1" reset ;;
    busy) [[ $# -eq 3 && $2 =~ ^[0-9]+$ && $3 =~ ^[0-9]+$ ]] || usage; cmd_post "$1" "busy?count=$2&backoff_ms=$3" ;;
    reference-check) cmd_reference_check "$@" ;;
    install) [[ $# -eq 0 ]] || usage; ensure_deps ;;
    -h | --help | help) usage ;;
    *) log "unknown command '$cmd'"; usage ;;
  esac
}

main "$@"
