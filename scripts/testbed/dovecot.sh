#!/usr/bin/env bash
# Throwaway Dovecot instance for mailbroker's integration tests.
#
#   dovecot.sh start   STATE_DIR                  start (or restart) an instance
#   dovecot.sh stop    STATE_DIR                  stop it, wait until it is gone
#   dovecot.sh who     STATE_DIR [USER]           number of live IMAP connections
#   dovecot.sh kick    STATE_DIR USER             drop all sessions of USER
#   dovecot.sh deliver STATE_DIR USER FILE [FOLDER]  append a message
#   dovecot.sh deliver-many STATE_DIR USER FOLDER COUNT  append COUNT small
#                                                 messages "Job 1".."Job COUNT"
#   dovecot.sh expunge STATE_DIR USER FOLDER      remove every message of FOLDER
#   dovecot.sh doveadm STATE_DIR ARGS...          any doveadm command on the instance
#   dovecot.sh certs   STATE_DIR                  only make/reuse the CA + cert
#
# Thousands of connections (bench/run.sh scale; unset = the defaults below):
#   MB_TESTBED_MAX_USERIP_CONNECTIONS=N  mail_max_userip_connections [1000]
#   MB_TESTBED_IMAP_CLIENT_LIMIT=N       imap processes serve N connections each
#                                        (service_count = 0, vsz_limit 2G) instead of one
#   MB_TESTBED_IMAP_PROCESS_LIMIT=N      at most N imap processes [default_process_limit]
#   MB_TESTBED_LOGIN_PROCESS_LIMIT=N     imap-login processes at most
#   MB_TESTBED_LOGIN_CLIENT_LIMIT=N      connections per imap-login process
#   MB_TESTBED_LOGIN_MIN_AVAIL=N         imap-login processes kept ready [2]
#   e.g. 10,000 IMAPS sessions (TESTBED-NOTES.md): IMAP_CLIENT_LIMIT=100
#   IMAP_PROCESS_LIMIT=400 LOGIN_PROCESS_LIMIT=16 LOGIN_CLIENT_LIMIT=5000
#   LOGIN_MIN_AVAIL=4 MAX_USERIP_CONNECTIONS=20000, and a high hard `ulimit -n`.
#
# Opt-in OAuth2 (XOAUTH2/OAUTHBEARER checked by token introspection):
#   MB_TESTBED_OAUTH2_INTROSPECTION_URL=http://ID:SECRET@127.0.0.1:PORT/PATH \
#     dovecot.sh start STATE_DIR
#
# Everything (config, certificates, users, mail, sockets, logs) lives inside
# STATE_DIR; the instance never reads /etc/dovecot, listens on 127.0.0.1 only
# and several instances (different STATE_DIRs) can run side by side.
# See scripts/testbed/README.md for the details.
set -euo pipefail

readonly PROG=${0##*/}
# shellcheck source=lib.sh
source "$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/lib.sh"
readonly TESTBED_USERS=(alice bob carol dave erin frank grace)

DOVECOT_BIN=${DOVECOT_BIN:-$(command -v dovecot || echo /usr/sbin/dovecot)}
DOVEADM_BIN=${DOVEADM_BIN:-$(command -v doveadm || echo /usr/bin/doveadm)}
# Prefer the distribution's python (stdlib only is needed): a pyenv/asdf shim
# first in PATH adds ~0.6 s per call. -I: ignore PYTHON* env and user site.
PYTHON=${MB_TESTBED_PYTHON:-}
if [[ -z $PYTHON ]]; then
  if [[ -x /usr/bin/python3 ]]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi

# Progress goes to stderr: stdout is reserved for the env file path so that
# callers can do ENV_FILE=$(dovecot.sh start DIR | tail -n1).
log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# ---------------------------------------------------------------------------
# Paths
# ---------------------------------------------------------------------------

# Sets STATE (absolute) and the derived paths. With create=1 the directory is
# created; otherwise it must exist already.
set_paths() {
  local dir=$1 create=${2:-0}
  [[ -n $dir ]] || die "STATE_DIR must not be empty"
  if [[ $create == 1 ]]; then
    mkdir -p -- "$dir"
  elif [[ ! -d $dir ]]; then
    die "state dir '$dir' does not exist (run '$PROG start $dir' first)"
  fi
  STATE=$(cd -- "$dir" && pwd -P)
  # The path ends up unquoted in dovecot.conf and in testbed.env (which is
  # meant to be sourced by shells and parsed by trivial KEY=VALUE readers),
  # so keep it to boring characters instead of inventing a quoting scheme.
  [[ $STATE =~ ^[A-Za-z0-9._/+@,:-]+$ ]] ||
    die "state dir path '$STATE' contains characters this script does not quote (use [A-Za-z0-9._/+@,:-])"
  CONF=$STATE/dovecot.conf
  LOGFILE=$STATE/dovecot.log
  ENV_FILE=$STATE/testbed.env
  TLS_DIR=$STATE/tls
  CA_FILE=$TLS_DIR/ca.crt
  MAIL_ROOT=$STATE/mail
  PASSWD_FILE=$STATE/users.passwd
  OAUTH2_CONF=$STATE/dovecot-oauth2.conf.ext
  # base_dir holds Dovecot's unix sockets. sun_path is limited to 108 bytes
  # and the longest socket name below base_dir is ~30 bytes, so for deep
  # state dirs we put the sockets under /tmp (keyed by a hash of STATE) and
  # leave a symlink behind for humans.
  RUN_DIR=$STATE/run
  if ((${#RUN_DIR} > 70)); then
    RUN_DIR=${TMPDIR:-/tmp}/mbtb-$(printf '%s' "$STATE" | sha256sum | cut -c1-16)
    ((${#RUN_DIR} <= 70)) || die "TMPDIR path too long for unix sockets: $RUN_DIR"
  fi
  # instance_name shows up in ps output ("dovecot-mbtb-xxxx/imap") and must differ
  # between concurrent instances.
  INSTANCE=mbtb-$(printf '%s' "$STATE" | sha256sum | cut -c1-12)
}

require_conf() {
  [[ -f $CONF ]] || die "no $CONF (run '$PROG start $STATE' first)"
}

doveadm_() { "$DOVEADM_BIN" -c "$CONF" "$@"; }

# ---------------------------------------------------------------------------
# Process handling
# ---------------------------------------------------------------------------

# Prints the master pid if an instance from this state dir is alive.
master_pid() {
  local pidfile=$RUN_DIR/master.pid pid
  [[ -r $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  # Guard against a stale pid file whose pid got reused by something else:
  # our master's command line mentions our config file.
  [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$CONF" || return 1
  printf '%s\n' "$pid"
}

# All processes of this instance: the master (from master.pid) plus every
# process titled "dovecot-<instance_name>/<service>" -- children keep that
# title even after the master is gone, which is what stop waits for.
instance_pids() {
  master_pid || true
  pgrep -f -- "^(dovecot-)?$INSTANCE/" || true
}

do_stop() {
  local pid i pids
  pid=$(master_pid) || pid=
  if [[ -n $pid ]]; then
    # SIGTERM makes the master stop all children and exit (~1 s). Plain kill
    # rather than 'doveadm stop' so a half-broken config cannot get in the way.
    kill -TERM "$pid" 2>/dev/null || true
  fi
  # Wait for the master *and* its children (imap/pop3 processes notice the
  # master is gone and exit on their own, slightly later).
  for ((i = 0; i < 100; i++)); do
    pids=$(instance_pids)
    [[ -z $pids ]] && break
    sleep 0.1
  done
  pids=$(instance_pids)
  if [[ -n $pids ]]; then
    log "instance did not exit within 10 s, sending SIGKILL to: ${pids//$'\n'/ }"
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.2
  fi
  rm -f -- "$RUN_DIR/master.pid"
  # A socket dir outside the state dir (long paths, see set_paths) would
  # otherwise outlive 'rm -rf STATE_DIR'.
  if [[ $RUN_DIR != "$STATE/run" ]]; then
    rm -rf -- "$RUN_DIR" "$STATE/run"
  fi
  [[ -n $pid ]] && log "stopped dovecot (master pid $pid)"
  return 0
}

# ---------------------------------------------------------------------------
# start helpers
# ---------------------------------------------------------------------------

# Four distinct free loopback ports. Binding all four at once before closing
# them guarantees they differ; there is an unavoidable (tiny) race with other
# programs grabbing them before Dovecot binds.
pick_ports() {
  if [[ -n ${MB_TESTBED_BASE_PORT:-} ]]; then
    if ! [[ $MB_TESTBED_BASE_PORT =~ ^[1-9][0-9]*$ ]] || ((MB_TESTBED_BASE_PORT < 1 || MB_TESTBED_BASE_PORT > 65532)); then
      die "MB_TESTBED_BASE_PORT must be a port number between 1 and 65532"
    fi
    "$PYTHON" -I - "$MB_TESTBED_BASE_PORT" <<'EOF' || die "MB_TESTBED_BASE_PORT=$MB_TESTBED_BASE_PORT: ports ${MB_TESTBED_BASE_PORT}..$((MB_TESTBED_BASE_PORT + 3)) must all be free on 127.0.0.1"
import socket, sys
base = int(sys.argv[1])
socks = []
for p in range(base, base + 4):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Dovecot does
    try:
        s.bind(("127.0.0.1", p))
    except OSError as e:
        sys.exit("port %d: %s" % (p, e.strerror))
    socks.append(s)
print(*range(base, base + 4))
EOF
  else
    "$PYTHON" -I - <<'EOF'
import socket
socks = []
for _ in range(4):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(*(s.getsockname()[1] for s in socks))
EOF
  fi
}

# Throwaway CA + server certificate. Reused across restarts (so a client that
# cached the CA file keeps working) unless missing or expiring within a day.
make_certs() {
  local crt=$TLS_DIR/server.crt key=$TLS_DIR/server.key
  if [[ -s $CA_FILE && -s $crt && -s $key ]] &&
    openssl x509 -in "$crt" -noout -checkend 86400 >/dev/null 2>&1 &&
    openssl x509 -in "$CA_FILE" -noout -checkend 86400 >/dev/null 2>&1; then
    return 0
  fi
  log "generating throwaway CA and server certificate in $TLS_DIR"
  rm -rf -- "$TLS_DIR"
  mkdir -p -- "$TLS_DIR"
  chmod 0755 "$TLS_DIR"
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  (
    umask 077 # private keys: owner only (the config parser reads them as the master's user)
    # CA. keyUsage/SKI/AKI are set explicitly because strict verifiers
    # (e.g. Python >= 3.13's VERIFY_X509_STRICT) reject CAs without them.
    openssl req -x509 "${ec[@]}" -days 30 \
      -keyout "$TLS_DIR/ca.key" -out "$CA_FILE" \
      -subj "/CN=mailbroker testbed CA ($INSTANCE)" \
      -addext "basicConstraints=critical,CA:true" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -addext "subjectKeyIdentifier=hash" 2>/dev/null
    openssl req -new "${ec[@]}" -keyout "$key" -out "$TLS_DIR/server.csr" \
      -subj "/CN=localhost" 2>/dev/null
    cat >"$TLS_DIR/server.ext" <<'EOF'
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
EOF
    openssl x509 -req -in "$TLS_DIR/server.csr" -days 30 \
      -CA "$CA_FILE" -CAkey "$TLS_DIR/ca.key" -CAcreateserial \
      -extfile "$TLS_DIR/server.ext" -out "$crt" 2>/dev/null
  ) || die "openssl failed to create the test certificates"
  chmod 0644 "$CA_FILE" "$crt"
}

random_password() { random_alnum 24; }  # ~143 bits

# Opt-in: the oauth2 passdb's settings file (introspection URL with the
# introspection client's credentials in it). Without
# MB_TESTBED_OAUTH2_INTROSPECTION_URL a previous run's file is removed.
write_oauth2_conf() {
  local url=${MB_TESTBED_OAUTH2_INTROSPECTION_URL:-}
  if [[ -z $url ]]; then
    rm -f -- "$OAUTH2_CONF"
    return 0
  fi
  # One "key = value" line in Dovecot's format: nothing that needs quoting
  # or could be expanded ('$' settings, '%' variables).
  local url_re='^https?://[A-Za-z0-9._~!&()*+,;=:@/?-]+$'
  [[ $url =~ $url_re ]] ||
    die "MB_TESTBED_OAUTH2_INTROSPECTION_URL must be an http(s) URL without spaces, quotes, '#', '\$' or '%'"
  local timeout=${MB_TESTBED_OAUTH2_TIMEOUT_MSECS:-2000}
  [[ $timeout =~ ^[1-9][0-9]*$ ]] || die "MB_TESTBED_OAUTH2_TIMEOUT_MSECS must be a positive integer"
  (
    umask 077 # contains the introspection client's secret
    cat >"$OAUTH2_CONF.tmp" <<EOF
# Generated by scripts/testbed/dovecot.sh (MB_TESTBED_OAUTH2_INTROSPECTION_URL).
# Every XOAUTH2/OAUTHBEARER login POSTs the token to introspection_url (RFC
# 7662, basic auth from the URL). Accepted when the answer has active=true
# and username equal to the login name. No auth cache (auth_cache_size is 0),
# so every login is checked against the server.
introspection_mode = post
introspection_url = $url
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
timeout_msecs = $timeout
EOF
  )
  if ((EUID == 0)); then
    # auth runs as the internal user 'dovecot' and reads this file.
    chgrp dovecot "$OAUTH2_CONF.tmp"
    chmod 0640 "$OAUTH2_CONF.tmp"
  fi
  mv -f -- "$OAUTH2_CONF.tmp" "$OAUTH2_CONF"
}

# Prints VALUE if it is a positive integer, else dies naming the variable.
count_knob() {
  local name=$1 value=$2
  [[ $value =~ ^[1-9][0-9]*$ ]] || die "$name must be a positive integer (got '$value')"
  printf '%s' "$value"
}

# Service settings for thousands of connections (MB_TESTBED_IMAP_* and
# MB_TESTBED_LOGIN_*, see the header). Prints nothing when none is set.
scale_blocks() {
  # (MB_TESTBED_IMAP_CLIENT_LIMIT has its own block in write_config.)
  local imap_lines="" login_lines=""
  if [[ -n ${MB_TESTBED_IMAP_PROCESS_LIMIT:-} ]]; then
    imap_lines+="  process_limit = $(count_knob MB_TESTBED_IMAP_PROCESS_LIMIT "$MB_TESTBED_IMAP_PROCESS_LIMIT")
"
  fi
  if [[ -n ${MB_TESTBED_LOGIN_PROCESS_LIMIT:-} ]]; then
    login_lines+="  process_limit = $(count_knob MB_TESTBED_LOGIN_PROCESS_LIMIT "$MB_TESTBED_LOGIN_PROCESS_LIMIT")
"
  fi
  if [[ -n ${MB_TESTBED_LOGIN_CLIENT_LIMIT:-} ]]; then
    login_lines+="  client_limit = $(count_knob MB_TESTBED_LOGIN_CLIENT_LIMIT "$MB_TESTBED_LOGIN_CLIENT_LIMIT")
"
  fi
  if [[ -n ${MB_TESTBED_LOGIN_MIN_AVAIL:-} ]]; then
    login_lines+="  process_min_avail = $(count_knob MB_TESTBED_LOGIN_MIN_AVAIL "$MB_TESTBED_LOGIN_MIN_AVAIL")
"
  fi
  # Repeated service blocks merge and these come last: their values win.
  if [[ -n $imap_lines ]]; then printf 'service imap {\n%s}\n' "$imap_lines"; fi
  if [[ -n $login_lines ]]; then printf 'service imap-login {\n%s}\n' "$login_lines"; fi
  return 0
}

write_config() {
  local imap=$1 imaps=$2 pop3=$3 pop3s=$4
  local userip scale
  userip=$(count_knob MB_TESTBED_MAX_USERIP_CONNECTIONS "${MB_TESTBED_MAX_USERIP_CONNECTIONS:-1000}")
  scale=$(scale_blocks)
  local users_block chroot_block=""
  local mechanisms="plain login" oauth2_block imap_shared_block=""
  # Opt-in for thousands of sessions (bench/connection_memory_bench): one imap
  # process serves up to MB_TESTBED_IMAP_CLIENT_LIMIT sessions instead of one,
  # so N sessions need N/limit processes rather than N.
  if [[ -n ${MB_TESTBED_IMAP_CLIENT_LIMIT:-} ]]; then
    [[ $MB_TESTBED_IMAP_CLIENT_LIMIT =~ ^[1-9][0-9]*$ ]] || die "MB_TESTBED_IMAP_CLIENT_LIMIT must be a positive number"
    imap_shared_block="service imap {
  service_count = 0
  client_limit = $MB_TESTBED_IMAP_CLIENT_LIMIT
  vsz_limit = 2G
}"
  fi
  if [[ -s $OAUTH2_CONF ]]; then
    mechanisms="plain login xoauth2 oauthbearer"
    oauth2_block="# OAuth2 (opt-in, MB_TESTBED_OAUTH2_INTROSPECTION_URL): bearer tokens are
# checked by token introspection, see $OAUTH2_CONF.
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $OAUTH2_CONF
}"
  else
    oauth2_block="# OAuth2 is off. With MB_TESTBED_OAUTH2_INTROSPECTION_URL set at start,
# 'xoauth2 oauthbearer' join auth_mechanisms and an oauth2 passdb goes here."
  fi
  if ((EUID == 0)); then
    # Dovecot refuses to run login/auth/mail processes as root; the Debian
    # package created these unprivileged users for exactly this purpose.
    users_block="default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull"
  else
    # Unprivileged: a non-root master cannot switch users or chroot(), so
    # every process runs as us and every chroot must be disabled (the
    # defaults chroot anvil/ipc/login processes, which fails without root).
    local me grp
    me=$(id -un) grp=$(id -gn)
    users_block="default_internal_user = $me
default_internal_group = $grp
default_login_user = $me"
    local svc
    for svc in aggregator anvil director imap-login imap-urlauth-login ipc old-stats pop3-login submission-login; do
      chroot_block+="service $svc {
  chroot =
}
"
    done
  fi

  cat >"$CONF.tmp" <<EOF
# Generated by scripts/testbed/dovecot.sh -- do not edit, it is rewritten on
# every start. Self-contained: no !include of /etc/dovecot.

instance_name = $INSTANCE
base_dir = $RUN_DIR
state_dir = $STATE/state
log_path = $LOGFILE
auth_verbose = yes

protocols = imap pop3
listen = 127.0.0.1

$users_block

# --- TLS ------------------------------------------------------------------
ssl = yes
ssl_cert = <$TLS_DIR/server.crt
ssl_key = <$TLS_DIR/server.key
ssl_min_protocol = TLSv1.2

# --- Authentication -------------------------------------------------------
# The plain (non-TLS) ports must accept LOGIN for the tests.
disable_plaintext_auth = no
auth_mechanisms = $mechanisms
# Failed logins normally answer after 2 s; tests provoke failures on purpose
# (with 0 a failure still takes ~0.5 s on the wire).
auth_failure_delay = 0
$oauth2_block
passdb {
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%n $PASSWD_FILE
}
userdb {
  driver = passwd-file
  args = username_format=%n $PASSWD_FILE
}

# After a failed login, auth asks anvil to delay the next attempt from the
# same IP (measured: the next *good* login took 4 s; up to 15 s after more
# failures). Deterministic tests cannot live with that and no setting turns
# it off: making anvil's penalty socket unusable is the only way. auth may
# then log "Error: net_connect_unix(anvil-auth-penalty) failed" once at
# startup and never applies a penalty -- that log line is expected.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}

# --- Mail -----------------------------------------------------------------
# Mail processes run as the uid/gid from $PASSWD_FILE (nobody/nogroup when
# started as root); uid 65534 < default first_valid_uid 500 would be refused.
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:~/Maildir

# --- Limits ---------------------------------------------------------------
# mailbroker holds many sessions per user from a single IP (default 10).
mail_max_userip_connections = $userip
default_process_limit = ${MB_TESTBED_PROCESS_LIMIT:-500}
default_client_limit = ${MB_TESTBED_CLIENT_LIMIT:-2000}
default_vsz_limit = 512M
$imap_shared_block

# --- Listeners (loopback only) --------------------------------------------
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $imap
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $imaps
    ssl = yes
  }
  # "Performance mode": a few long-lived login processes handle all
  # pre-auth connections and TLS proxying, instead of one process per
  # TLS connection (which would halve how many sessions the limits allow).
  service_count = 0
  process_min_avail = 2
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $pop3
  }
  inet_listener pop3s {
    address = 127.0.0.1
    port = $pop3s
    ssl = yes
  }
  service_count = 0
  process_min_avail = 1
}

$chroot_block
$scale
EOF
  mv -f -- "$CONF.tmp" "$CONF"
}

# Wait until IMAPS answers with a verified TLS handshake and an IMAP greeting.
wait_for_imaps() {
  local port=$1 timeout=$2
  "$PYTHON" -I - "$port" "$timeout" "$CA_FILE" <<'EOF'
import socket, ssl, sys, time
port, timeout, cafile = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=cafile)
deadline = time.monotonic() + timeout
last = "no attempt"
while time.monotonic() < deadline:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                greeting = s.recv(512)
                if greeting.startswith(b"* OK"):
                    sys.exit(0)
                last = "unexpected greeting %r" % greeting[:80]
    except (OSError, ssl.SSLError) as e:
        last = str(e)
    time.sleep(0.05)
print("IMAPS on port %d not ready after %.0fs: %s" % (port, timeout, last), file=sys.stderr)
sys.exit(1)
EOF
}

cmd_start() {
  [[ $# -eq 1 ]] || usage
  command -v "$PYTHON" >/dev/null || die "python3 is required"
  command -v openssl >/dev/null || die "openssl is required"
  [[ -x $DOVECOT_BIN ]] || die "dovecot not found (apt-get install dovecot-core dovecot-imapd dovecot-pop3d)"
  set_paths "$1" 1
  local t0=${EPOCHREALTIME/[.,]/}

  # Idempotent: whatever ran from this state dir before goes away first.
  if [[ -n $(instance_pids) ]]; then
    log "an instance from $STATE is running, stopping it first"
    do_stop
  fi

  # 0755: unprivileged Dovecot processes (and the mail uid) must be able to
  # traverse into the state dir.
  chmod 0755 "$STATE"
  mkdir -p -- "$STATE/state" "$RUN_DIR"
  [[ $RUN_DIR == "$STATE/run" ]] || ln -sfn -- "$RUN_DIR" "$STATE/run"

  local mail_uid mail_gid
  if ((EUID == 0)); then
    mail_uid=$(id -u nobody) mail_gid=$(getent group nogroup | cut -d: -f3)
    [[ -n $mail_gid ]] || die "group 'nogroup' not found"
    # If an ancestor directory is not world-searchable (e.g. /root), the
    # mail processes (uid nobody) would fail later with a confusing error.
    if command -v setpriv >/dev/null &&
      ! setpriv --reuid="$mail_uid" --regid="$mail_gid" --clear-groups test -x "$STATE"; then
      die "$STATE is not reachable for uid nobody (some parent directory is not o+x); use e.g. a directory under /tmp"
    fi
  else
    mail_uid=$(id -u) mail_gid=$(id -g)
  fi

  # Ports first: a clash with MB_TESTBED_BASE_PORT should fail fast.
  local ports imap imaps pop3 pop3s
  ports=$(pick_ports)
  read -r imap imaps pop3 pop3s <<<"$ports"

  make_certs

  # Fresh mail store on every start so tests see a known state
  # (MB_TESTBED_KEEP_MAIL=1 keeps existing mail).
  if [[ ${MB_TESTBED_KEEP_MAIL:-0} != 1 ]]; then
    rm -rf -- "$MAIL_ROOT"
  fi
  mkdir -p -- "$MAIL_ROOT"
  chmod 0755 "$MAIL_ROOT"

  # Users with fresh random passwords. {PLAIN} storage is deliberate: this is
  # a throwaway instance, the plaintext is in testbed.env anyway, and it keeps
  # logins cheap for benchmarks (no crypt() per login).
  local u pw
  local -A passwords=()
  (umask 077 && : >"$PASSWD_FILE.tmp")
  for u in "${TESTBED_USERS[@]}"; do
    pw=$(random_password)
    passwords[$u]=$pw
    mkdir -p -- "$MAIL_ROOT/$u"
    printf '%s:{PLAIN}%s:%s:%s::%s::\n' "$u" "$pw" "$mail_uid" "$mail_gid" "$MAIL_ROOT/$u" >>"$PASSWD_FILE.tmp"
  done
  if ((EUID == 0)); then
    chown -R "$mail_uid:$mail_gid" "$MAIL_ROOT"/*
    # auth runs as the internal user 'dovecot' and reads this file.
    chgrp dovecot "$PASSWD_FILE.tmp"
    chmod 0640 "$PASSWD_FILE.tmp"
  fi
  mv -f -- "$PASSWD_FILE.tmp" "$PASSWD_FILE"

  write_oauth2_conf
  write_config "$imap" "$imaps" "$pop3" "$pop3s"

  # Keep the previous log for post-mortems, start a fresh one.
  [[ -f $LOGFILE ]] && mv -f -- "$LOGFILE" "$LOGFILE.prev"
  : >"$LOGFILE"
  # log_path is opened by the log process, which runs as root when we are
  # root; world-readable so non-root test code can read it.
  chmod 0644 "$LOGFILE"

  # Many concurrent sessions need many fds; a root master raises its own
  # limit, a non-root one cannot, so lift the soft limit to the hard one.
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

  # dovecot daemonizes; errors before the log process is up go to stderr.
  if ! "$DOVECOT_BIN" -c "$CONF" 2>"$STATE/dovecot.stderr"; then
    cat "$STATE/dovecot.stderr" >&2
    tail -n 30 "$LOGFILE" >&2 || true
    die "dovecot failed to start (config: $CONF)"
  fi

  if ! wait_for_imaps "$imaps" "${MB_TESTBED_START_TIMEOUT:-15}"; then
    log "--- last lines of $LOGFILE ---"
    tail -n 30 "$LOGFILE" >&2 || true
    cat "$STATE/dovecot.stderr" >&2 || true
    do_stop || true
    die "dovecot did not come up"
  fi

  local pid
  pid=$(master_pid) || die "dovecot answered but master.pid is missing"

  # Write atomically: readers polling for the file never see half of it.
  (
    umask 077 # contains passwords
    {
      echo "# mailbroker Dovecot testbed -- generated by $PROG; sourceable KEY=VALUE"
      echo "STATE_DIR=$STATE"
      echo "DOVECOT_CONF=$CONF"
      echo "DOVECOT_LOG=$LOGFILE"
      echo "DOVECOT_PID=$pid"
      echo "CA_FILE=$CA_FILE"
      echo "HOST=127.0.0.1"
      echo "IMAP_PORT=$imap"
      echo "IMAPS_PORT=$imaps"
      echo "POP3_PORT=$pop3"
      echo "POP3S_PORT=$pop3s"
      echo "TESTBED_USERS=${TESTBED_USERS[*]}"
      for u in "${TESTBED_USERS[@]}"; do
        echo "${u^^}_PASSWORD=${passwords[$u]}"
      done
      # Only with MB_TESTBED_OAUTH2_INTROSPECTION_URL (opt-in).
      if [[ -s $OAUTH2_CONF ]]; then echo "DOVECOT_OAUTH2_CONF=$OAUTH2_CONF"; fi
    } >"$ENV_FILE.tmp"
  )
  mv -f -- "$ENV_FILE.tmp" "$ENV_FILE"
  log "dovecot up in $(((${EPOCHREALTIME/[.,]/} - t0) / 1000)) ms (pid $pid): imap=$imap imaps=$imaps pop3=$pop3 pop3s=$pop3s"
  printf '%s\n' "$ENV_FILE"
}

# Only the throwaway CA and server certificate (created or reused exactly as
# 'start' does), so that other testbed servers (oauth2.sh) can share the CA
# before or without Dovecot. Prints the CA file's path.
cmd_certs() {
  [[ $# -eq 1 ]] || usage
  command -v openssl >/dev/null || die "openssl is required"
  set_paths "$1" 1
  make_certs
  printf '%s\n' "$CA_FILE"
}

cmd_stop() {
  [[ $# -eq 1 ]] || usage
  set_paths "$1"
  if [[ -z $(instance_pids) ]]; then
    log "no running instance for $STATE"
    return 0
  fi
  do_stop
}

cmd_who() {
  [[ $# -eq 1 || $# -eq 2 ]] || usage
  set_paths "$1"
  require_conf
  local user=${2:-}
  # "0" from a dead server would let a test pass for the wrong reason.
  master_pid >/dev/null || die "no running instance for $STATE"
  # 'who -1' prints a header line ("username proto pid ip ...") and then one
  # row per connection. Count rows whose proto column is imap (POP3 rows
  # are ignored) and whose username matches, if given. Only logged-in
  # sessions are listed (anvil registers them after authentication).
  local out
  out=$(doveadm_ who -1) || die "doveadm who failed"
  awk -v u="$user" '
    NR == 1 && $1 == "username" { next }
    $2 == "imap" && (u == "" || $1 == u) { n++ }
    END { print n + 0 }' <<<"$out"
}

cmd_kick() {
  [[ $# -eq 2 ]] || usage
  set_paths "$1"
  require_conf
  # doveadm kick prints the kicked users; keep that on stderr so stdout stays
  # clean for scripts.
  local rc=0
  doveadm_ kick "$2" >&2 || rc=$?
  # Exit code 68 (EX_NOUSER) just means nobody was connected: not an error.
  ((rc == 0 || rc == 68)) || die "doveadm kick $2 failed (exit $rc)"
}

cmd_expunge() {
  [[ $# -eq 3 ]] || usage
  set_paths "$1"
  require_conf
  doveadm_ expunge -u "$2" mailbox "$3" all >&2 || die "doveadm expunge for $2 in '$3' failed"
}

# Any doveadm command against the instance, e.g. for tests that change a mailbox the
# way another client would: doveadm DIR flags add -u USER '\Seen' mailbox F uid 3
cmd_doveadm() {
  [[ $# -ge 2 ]] || usage
  set_paths "$1"
  require_conf
  shift
  doveadm_ "$@"
}

cmd_deliver() {
  [[ $# -eq 3 || $# -eq 4 ]] || usage
  set_paths "$1"
  require_conf
  local user=$2 file=$3 folder=${4:-INBOX}
  [[ -r $file ]] || die "cannot read message file '$file'"
  if [[ $folder != INBOX ]]; then
    # save -m needs an existing mailbox; "already exists" is fine.
    doveadm_ mailbox create -u "$user" "$folder" 2>/dev/null || true
  fi
  # doveadm save runs as the user's mail uid and writes straight into the
  # mailbox (no LDA, no sieve): simplest reliable way to plant a message.
  doveadm_ save -u "$user" -m "$folder" <"$file" ||
    die "doveadm save -u $user -m $folder failed"
}

cmd_deliver_many() {
  [[ $# -eq 4 && $4 =~ ^[0-9]+$ ]] || usage
  set_paths "$1"
  require_conf
  local user=$2 folder=$3 count=$4 port password
  port=$(sed -n 's/^IMAP_PORT=//p' "$ENV_FILE")
  password=$(sed -n "s/^${user^^}_PASSWORD=//p" "$ENV_FILE")
  [[ -n $port && -n $password ]] || die "no IMAP port or password for '$user' in $ENV_FILE"
  doveadm_ mailbox create -u "$user" "$folder" 2>/dev/null || true
  # One IMAP connection and APPEND per message: doveadm save costs ~0.1 s a message
  # here, which makes a 1000-message corpus take minutes.
  MB_DELIVER_PASSWORD=$password "$PYTHON" - "$port" "$user" "$folder" "$count" <<'PY' ||
import imaplib, os, sys
port, user, folder, count = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
password = os.environ["MB_DELIVER_PASSWORD"]
imap = imaplib.IMAP4("127.0.0.1", port)
imap.login(user, password)
quoted = '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
for i in range(1, count + 1):
    message = (f"From: jobs@example.org\r\nTo: {user}@example.org\r\nSubject: Job {i}\r\n"
               f"Message-ID: <job-{i}@test>\r\n\r\nWork item {i}.\r\n").encode()
    status, _ = imap.append(quoted, None, None, message)
    if status != "OK":
        sys.exit(f"APPEND {i} failed")
imap.logout()
PY
    die "APPEND of $count messages to $folder failed"
}

main() {
  [[ $# -ge 1 ]] || usage
  local cmd=$1
  shift
  case $cmd in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    who) cmd_who "$@" ;;
    kick) cmd_kick "$@" ;;
    deliver) cmd_deliver "$@" ;;
    deliver-many) cmd_deliver_many "$@" ;;
    expunge) cmd_expunge "$@" ;;
    doveadm) cmd_doveadm "$@" ;;
    certs) cmd_certs "$@" ;;
    -h | --help | help) usage ;;
    *) log "unknown command '$cmd'"; usage ;;
  esac
}

main "$@"
