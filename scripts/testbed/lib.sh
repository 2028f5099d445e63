# Shared by the testbed scripts (sourced, not run).

# N random characters from [A-Za-z0-9]: safe unquoted in IMAP LOGIN, URLs (Dovecot's
# introspection_url carries one), env files, shells and HTTP basic auth. Plain bash +
# od because starting python3 costs ~0.3 s per call on small CI VMs. Bytes >= 248 are
# skipped so the modulo does not bias the distribution.
random_alnum() {
  local n=$1
  local alphabet=ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789
  local out="" b
  while ((${#out} < n)); do
    for b in $(od -An -v -tu1 -N64 /dev/urandom); do
      if ((b < 248)); then out+=${alphabet:b%62:1}; fi
    done
  done
  printf '%s\n' "${out:0:n}"
}

# ---------------------------------------------------------------------------
# Start/stop scaffolding for a testbed server run in the background (used by graph.sh;
# the callers define log and die). A server is ours when its command line names our config
# file (guards against a reused pid).
# ---------------------------------------------------------------------------

tb_now_ms() { echo $((${EPOCHREALTIME/[.,]/} / 1000)); }

# tb_state_dir DIR CREATE(0|1): sets STATE to DIR's absolute path; the path ends up unquoted
# in sourceable env files, hence the character rule (the same as dovecot.sh's).
tb_state_dir() {
  local dir=$1 create=${2:-0}
  [[ -n $dir ]] || die "STATE_DIR must not be empty"
  if [[ $create == 1 ]]; then
    mkdir -p -- "$dir"
  elif [[ ! -d $dir ]]; then
    die "state dir '$dir' does not exist (run '${PROG:-$0} start $dir' first)"
  fi
  STATE=$(cd -- "$dir" && pwd -P)
  [[ $STATE =~ ^[A-Za-z0-9._/+@,:-]+$ ]] ||
    die "state dir path '$STATE' contains characters the testbed scripts do not quote (use [A-Za-z0-9._/+@,:-])"
}

# tb_server_pid PIDFILE CONFIG: prints the pid when that server is alive.
tb_server_pid() {
  local pidfile=$1 config=$2 pid
  [[ -r $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "--config $config" || return 1
  printf '%s\n' "$pid"
}

# tb_stop_server PIDFILE CONFIG LABEL: SIGTERM, up to 5 s, then SIGKILL; removes PIDFILE.
tb_stop_server() {
  local pidfile=$1 config=$2 label=$3 pid i
  pid=$(tb_server_pid "$pidfile" "$config") || pid=
  if [[ -n $pid ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      [[ -e /proc/$pid ]] || break
      [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]] && break # exited, not reaped yet
      sleep 0.05
    done
    if [[ -e /proc/$pid && $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]; then
      log "$label (pid $pid) did not exit within 5 s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    log "stopped $label (pid $pid)"
  fi
  rm -f -- "$pidfile"
}

# tb_wait_ready LOGFILE PID TIMEOUT_S: waits for the server's 'READY ...' line; sets READY_LINE.
tb_wait_ready() {
  local logfile=$1 pid=$2 timeout=$3 deadline line
  deadline=$(($(tb_now_ms) + timeout * 1000))
  while (($(tb_now_ms) < deadline)); do
    line=$(grep -m1 '^READY ' "$logfile" 2>/dev/null || true)
    if [[ -n $line ]]; then
      # shellcheck disable=SC2034 # read by the caller
      READY_LINE=$line
      return 0
    fi
    [[ -e /proc/$pid ]] || return 1
    sleep 0.02
  done
  return 1
}

# tb_npm_ci DIR NODE NPM: npm ci in DIR when node_modules is missing or was made from another
# package-lock.json (a stamp holds the lock's hash); a lock file serialises concurrent runs.
tb_npm_ci() {
  local dir=$1 node=$2 npm=$3
  command -v "$node" >/dev/null || die "node not found (Node.js >= 18 with npm is needed for $dir)"
  local lockfile=$dir/package-lock.json stamp=$dir/node_modules/.mb-lock-sha256 want mutex t0
  [[ -r $lockfile ]] || die "$lockfile is missing"
  want=$(sha256sum <"$lockfile" | cut -c1-64)
  [[ -f $stamp && $(<"$stamp") == "$want" ]] && return 0
  command -v "$npm" >/dev/null || die "npm not found (needed once to install $dir/node_modules)"
  mutex=${TMPDIR:-/tmp}/mb-npm-$(printf '%s' "$dir" | sha256sum | cut -c1-12).lock
  exec 9>"$mutex"
  flock 9
  if [[ ! -f $stamp || $(<"$stamp") != "$want" ]]; then
    t0=$(tb_now_ms)
    log "installing node modules: npm ci in $dir"
    # npm's output goes to stderr: stdout is for the env file path.
    (cd -- "$dir" && "$npm" ci --prefer-offline --no-audit --no-fund 1>&2) || die "npm ci failed in $dir"
    printf '%s\n' "$want" >"$stamp"
    log "npm ci took $(($(tb_now_ms) - t0)) ms"
  fi
  flock -u 9
  exec 9>&-
}
