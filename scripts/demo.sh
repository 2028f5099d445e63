#!/usr/bin/env bash
# The main job, on a fresh Debian 12 machine: installs what is needed, builds, starts a
# local demo mail server (a throwaway Dovecot on loopback, plus an SMTP submission
# server from npm) and mailbrokerd on its embedded defaults, connects a session named
# "demo" over IMAPS with an SMTP leg, attaches more "bots" to it, prints the status,
# lists, parses, watches and sends mail through it, and reads the same mailbox over
# POP3. Then the daemon keeps running in the foreground until Ctrl-C (which logs the
# sessions out); set MB_DEMO_HOLD=0 to stop right away.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
hold=${MB_DEMO_HOLD:-1}
[[ -t 0 ]] || hold=${MB_DEMO_HOLD:-0}  # no terminal (CI, pipes): don't wait for Ctrl-C

"$root/scripts/setup-debian.sh"
cmake --preset release -S "$root" >/dev/null
cmake --build "$root/build/release" --target mailbrokerd mailbroker -j2
bin=$root/build/release

state=/tmp/mailbroker-demo
rm -rf "$state" && mkdir -p "$state" && chmod 755 "$state"
daemon_pid=
cleanup() {
  if [[ -n $daemon_pid ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid" && wait "$daemon_pid" || true
  fi
  "$root/scripts/testbed/smtp.sh" stop "$state/dovecot" >/dev/null 2>&1 || true
  "$root/scripts/testbed/dovecot.sh" stop "$state/dovecot" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 0' INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "starting a demo IMAP server (Dovecot on 127.0.0.1, throwaway CA and users)"
env_file=$("$root/scripts/testbed/dovecot.sh" start "$state/dovecot" | tail -n1)
# shellcheck disable=SC1090
IMAPS_PORT=$(grep '^IMAPS_PORT=' "$env_file" | cut -d= -f2)
CA_FILE=$(grep '^CA_FILE=' "$env_file" | cut -d= -f2)
POP3S_PORT=$(grep '^POP3S_PORT=' "$env_file" | cut -d= -f2)
(umask 077 && grep '^ALICE_PASSWORD=' "$env_file" | cut -d= -f2 >"$state/alice.password")

say "starting a demo SMTP submission server (npm smtp-server on 127.0.0.1; it records what it accepts)"
smtp_env=$("$root/scripts/testbed/smtp.sh" start "$state/dovecot" | tail -n1)
SMTP_PORT=$(grep '^SMTP_PORT=' "$smtp_env" | cut -d= -f2)
SMTP_MESSAGES_DIR=$(grep '^SMTP_MESSAGES_DIR=' "$smtp_env" | cut -d= -f2)

say "starting mailbrokerd (embedded defaults; socket $state/mailbrokerd.sock)"
"$bin/daemon/mailbrokerd" --socket "$state/mailbrokerd.sock" --state-dir "$state/daemon-state" &
daemon_pid=$!
for _ in $(seq 100); do [[ -S $state/mailbrokerd.sock ]] && break; sleep 0.05; done
export MAILBROKER_TARGET=unix:$state/mailbrokerd.sock

connect_demo() {
  "$bin/client/cli/mailbroker" connect demo --host 127.0.0.1 --port "$IMAPS_PORT" --tls implicit \
    --ca-file "$CA_FILE" --user alice --password-file "$state/alice.password" \
    --smtp-host 127.0.0.1 --smtp-port "$SMTP_PORT" --smtp-tls starttls --smtp-ca-file "$CA_FILE" \
    --client-name "$1" "${@:2}"
}
mb() { "$bin/client/cli/mailbroker" "$@"; }

say "bot-1: mailbroker connect demo ... (creates the session: TLS + login once)"
connect_demo bot-1
say "bot-2: the same Connect attaches to the live session (no new login)"
connect_demo bot-2
say "mailbroker status"
"$bin/client/cli/mailbroker" status
say "Dovecot's view: IMAP connections for alice = $("$root/scripts/testbed/dovecot.sh" who "$state/dovecot" alice)"

say "two messages arrive; bot-3 lists them through the daemon's connection (mailbroker messages LEASE)"
printf 'From: =?UTF-8?B?SsO2cmcgTcO8bGxlcg==?= <jorg@example.org>\r\nTo: alice@example.org\r\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= from the demo\r\nDate: %s\r\n\r\nHello.\r\n' \
  "$(date -R)" >"$state/m1.eml"
printf 'From: scanner@example.org\r\nTo: alice@example.org\r\nSubject: Scan 42\r\nDate: %s\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nScan.\r\n--b\r\nContent-Type: application/pdf; name=scan.pdf\r\nContent-Disposition: attachment; filename=scan.pdf\r\n\r\nJVBERi0=\r\n--b--\r\n' \
  "$(date -R)" >"$state/m2.eml"
"$root/scripts/testbed/dovecot.sh" deliver "$state/dovecot" alice "$state/m1.eml"
"$root/scripts/testbed/dovecot.sh" deliver "$state/dovecot" alice "$state/m2.eml"
lease=$(connect_demo bot-3 --json 2>/dev/null | sed -n 's/.*"lease_id": *"\([^"]*\)".*/\1/p')
mb messages "$lease"

say "bot-3 reads the scan: parsed parts (mailbroker show LEASE UID) and its attachment"
mb show "$lease" 2
mb save-attachments "$lease" 2 --dir "$state/attachments"

say "bot-3 watches INBOX (IMAP IDLE on the same connection) while a message arrives"
mb watch-mail "$lease" --timeout 4 2>/dev/null &
watch_pid=$!
sleep 1
printf 'From: boss@example.org\r\nTo: alice@example.org\r\nSubject: Urgent: budget\r\nMessage-ID: <budget-1@example.org>\r\nDate: %s\r\n\r\nCall me.\r\n' \
  "$(date -R)" >"$state/m3.eml"
"$root/scripts/testbed/dovecot.sh" deliver "$state/dovecot" alice "$state/m3.eml"
wait "$watch_pid" || true  # exit 5: the demo's --timeout ended the stream after 4 s

say "bot-3 replies over the session's SMTP leg (mailbroker reply LEASE UID)"
mb reply "$lease" 3 --from 'Alice <alice@example.org>' --text 'On it.'
echo "the SMTP server recorded: $(ls "$SMTP_MESSAGES_DIR"/*.eml)"
grep -i '^\(subject\|in-reply-to\):' "$SMTP_MESSAGES_DIR"/*.eml

say "the same mailbox over POP3 (mailbroker connect demo-pop3 --protocol pop3 ...)"
pop3_lease=$(mb connect demo-pop3 --protocol pop3 --host 127.0.0.1 --port "$POP3S_PORT" --ca-file "$CA_FILE" \
  --user alice --password-file "$state/alice.password" --client-name bot-4 --json 2>/dev/null |
  sed -n 's/.*"lease_id": *"\([^"]*\)".*/\1/p')
mb messages "$pop3_lease"
mb status

if [[ $hold == 1 ]]; then
  say "mailbrokerd keeps the session alive; try: MAILBROKER_TARGET=$MAILBROKER_TARGET $bin/client/cli/mailbroker watch"
  say "Ctrl-C stops the daemon (it logs the session out first)"
  wait "$daemon_pid"
else
  say "stopping mailbrokerd with SIGTERM: every session logs out"
  kill -TERM "$daemon_pid" && wait "$daemon_pid"
  daemon_pid=
  echo "mailbrokerd exited with status 0"
fi
