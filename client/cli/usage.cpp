#include "client/cli/usage.hpp"

#include <cstdlib>

#include "client/broker_client.hpp"

namespace mailbroker::cli {
namespace {

constexpr std::string_view global_options_text = R"txt(
Global options (before or after the command):
  --target TARGET     mailbrokerd's address: unix:/path or host:port
  --json              machine output: protobuf JSON (proto field names), one object per line
  --timeout SECONDS   call deadline; fractions allowed
                      [connect: 30, test: 65 (the daemon stops a test at 60),
                      disconnect/renew/status: 10, folders/messages/
                      show: 30, save-attachments: 120 per attachment, send/reply/
                      forward: 60, watch/watch-mail: none]
  --daemon-ca-file PATH   host:port targets: CA of the daemon's TLS certificate
                      [the system trust store]
  --cert PATH, --key PATH
                      host:port targets: this bot's client certificate (mTLS): its
                      name is who the daemon's policy sees
  --token-file PATH   host:port targets: a bearer token (first line) the daemon's
                      config knows, for bots without a certificate
  --plaintext         host:port targets: no TLS (an insecure-tcp daemon on loopback)
  -h, --help          this help; `mailbroker COMMAND --help` for a command's
  --version           print the version
)txt";

constexpr std::string_view exit_codes_text = R"txt(
Exit codes:
  0  success
  1  internal error (a bug)
  2  usage error: bad or missing flags, a password on the command line, a password
     file or variable the CLI itself cannot read
  3  mailbrokerd answered with an error, printed as "mailbroker: CODE: message"
     (e.g. UNAUTHENTICATED, NOT_FOUND, UNAVAILABLE when the mail server is down);
     test: a step failed (the report says which, and the fix)
  4  mailbrokerd could not be reached (not running, wrong --target)
  5  DEADLINE_EXCEEDED: --timeout passed, or the session was not READY in time
  6  send/reply/forward: the message went out, but the server refused some of the
     recipients (listed as REFUSED); when it refuses all of them, exit 3
)txt";

constexpr std::string_view connect_text = R"txt(Usage: mailbroker connect SESSION --host HOST --user USER PASSWORD-SOURCE [OPTIONS]

Creates the session SESSION (1..128 characters of A-Z a-z 0-9 . _ -), or attaches to
the live session of that name when the server, TLS settings, user and password
source are the same. Waits until the session is READY or has clearly failed, then
takes a lease: the session stays logged in while a lease or its linger time lasts.
Release the lease with `mailbroker disconnect LEASE_ID`.

Server:
  --protocol PROTOCOL          imap | pop3 | ews | graph [imap]. POP3 has one folder
                               (INBOX), no flags and no server-side search (see the
                               API docs); graph is Microsoft Graph (Exchange Online)
  --host HOST                  IMAP or POP3 server: DNS name or IP literal (required;
                               not with ews: the host comes from --ews-url or
                               --ews-autodiscover; not with graph: from --graph-cloud)
  --port N                     [IMAP: 993 with --tls implicit, else 143;
                                POP3: 995 with --tls implicit, else 110]
  --tls MODE                   implicit | starttls | plain [implicit]
  --allow-plaintext            required with --tls plain: the password then crosses
                               the network in clear
  --ca-file PATH               PEM CA certificates on the daemon's machine
                               [the system trust store]
  --insecure-skip-verify       skip certificate and host-name checks (tests only;
                               `status` shows it)
  --server-name NAME           name to verify and send as SNI [HOST]

Exchange Web Services (--protocol ews; --ca-file, --insecure-skip-verify and
--allow-plaintext apply to its https / http URL):
  --ews-url URL                https://HOST[:PORT]/EWS/Exchange.asmx
  --ews-autodiscover ADDRESS   instead of --ews-url: find the URL with Autodiscover
                               from the mailbox address when the session connects,
                               with its credentials (https://DOMAIN and
                               https://autodiscover.DOMAIN); `status` shows it as
                               EwsUrl=... (connect only: `test` needs --ews-url)
  --ews-version VERSION        Exchange2007_SP1 | Exchange2010 | Exchange2010_SP1 |
                               Exchange2010_SP2 | Exchange2013 | Exchange2013_SP1
                               [Exchange2013_SP1; also for 2016, 2019 and SE]
  --ews-auth SCHEME            ntlm | basic [ntlm; OAuth2 options send a Bearer token]
  --ews-domain DOMAIN          Windows domain: the server sees DOMAIN\USER
  --ews-mailbox ADDRESS        open this shared or delegate mailbox instead of USER's
  --ews-impersonate ADDRESS    ExchangeImpersonation: act as ADDRESS (app-only access)
  --ews-timeout SECONDS        per request and connection attempt, 10..60 [10]

Microsoft Graph (--protocol graph; OAuth2 only: --oauth2-client-id or
--oauth2-connection; --user is optional; --ca-file, --insecure-skip-verify and
--allow-plaintext apply to the service root; no --host, --port or --smtp-*):
  --graph-mailbox ADDRESS      the mailbox: a user's or a shared mailbox
                               (/users/ADDRESS; required with client_credentials)
                               [/me: the user who signed in (delegated tokens)]
  --graph-cloud CLOUD          global | us-gcc-high | custom [the --oauth2-cloud of
                               a Microsoft token, else global]
  --graph-base-url URL         https://HOST[:PORT][/PREFIX] of another Graph server
                               (tests); implies --graph-cloud custom
  --graph-timeout SECONDS      per request and connection attempt, 10..120 [30]
  --graph-max-requests N       requests in flight at once for the mailbox, 1..16
                               [4: Exchange Online's limit per app and mailbox]

Credentials (--user and exactly one password source):
  --user USER                  login name (required)
  --password-stdin             read one line from stdin (no echo on a terminal)
  --password-env VAR           the CLI reads its environment variable VAR
  --password-file PATH         the CLI reads PATH (one trailing newline dropped)
  --password-daemon-env VAR    mailbrokerd reads VAR in its own environment
  --password-daemon-file PATH  mailbrokerd reads PATH on its own machine
  --password-vault NAME        mailbrokerd takes the vault entry NAME (`mailbroker vault put`)
  A password is never taken from the command line (--password is refused): every
  local user can read a process's arguments, and shells keep them in history.

OAuth2 (instead of a password; a password source then supplies the client secret,
except with --oauth2-grant password, and --user is the mailbox to log in as):
  --oauth2-client-id ID        application (client) id: selects OAuth2
  --oauth2-grant GRANT         client_credentials | authorization_code | password
                               [client_credentials].
                               authorization_code: the session refreshes the token
                               `mailbroker authorize SESSION` stored (same options);
                               the client secret is optional (public clients).
                               password (ROPC, RFC 6749 4.3): --user signs in at the
                               token endpoint with the password source's password;
                               Microsoft: work or school accounts without MFA only
                               (prefer authorization_code). The client secret, optional,
                               comes from --oauth2-client-secret-* below.
                               implicit is refused: it gives no refresh token (use
                               authorization_code, or client_credentials for app-only)
  --oauth2-provider NAME       microsoft | google | custom [custom with
                               --oauth2-token-url, else microsoft]. Client credentials:
                               Microsoft and custom only; yahoo and msn are refused
  --oauth2-tenant TENANT       Microsoft directory (tenant) id or domain
  --oauth2-cloud CLOUD         global | us-gcc-high (Microsoft) [global]
  --oauth2-token-url URL       token endpoint (https) [the provider's]
  --oauth2-authorize-url URL   authorization endpoint (https) [the provider's]
  --oauth2-redirect-uri URI    loopback redirect [Microsoft http://localhost:9999/callback,
                               Google http://localhost:8888/Callback]
  --oauth2-scope SCOPES        space-separated scopes [the provider's mail scope]
  --oauth2-token-ca-file PATH  CA file for the token endpoint [system store]
  --oauth2-client-secret-env VAR, --oauth2-client-secret-file PATH (read by the CLI),
  --oauth2-client-secret-daemon-env VAR, --oauth2-client-secret-daemon-file PATH,
  --oauth2-client-secret-vault NAME (resolved by mailbrokerd)
                               --oauth2-grant password only: the client secret
                               [none: a public client]. --oauth2-client-secret is refused
  --oauth2-refresh-token-vault NAME
                               start from the refresh token in vault entry NAME
  --oauth2-connection NAME     use the daemon's configured OAuth2 connection NAME (no
                               client id or secret here; --user may default to the
                               connection's)

Sending (an SMTP submission leg next to the session, for send / reply / forward):
  --smtp-host HOST             SMTP submission server; without it the session cannot send
  --smtp-port N                [465 with --smtp-tls implicit, else 587]
  --smtp-tls MODE              implicit | starttls | plain [implicit]
  --smtp-allow-plaintext       required with --smtp-tls plain
  --smtp-ca-file PATH          PEM CA certificates on the daemon's machine [system store]
  --smtp-insecure-skip-verify  skip certificate and host-name checks (tests only)
  --smtp-server-name NAME      name to verify and send as SNI [the SMTP HOST]
  --smtp-user USER             log in to SMTP as USER, with exactly one of:
    --smtp-password-env VAR, --smtp-password-file PATH (read by the CLI),
    --smtp-password-daemon-env VAR, --smtp-password-daemon-file PATH,
    --smtp-password-vault NAME (resolved by mailbrokerd)
                               [no --smtp-user: the session's own user and password
                               or OAuth2 token]. --smtp-password is refused.
  The SMTP settings are part of the session's identity: a connect with different ones
  does not attach to the live session (use --replace).

Session and lease:
  --keepalive SECONDS          NOOP interval while idle, 5..1740 [60]
  --poll-interval SECONDS      how often watch-mail polls where IMAP IDLE is missing,
                               and how often POP3 re-opens the maildrop, 1..3600 [30]
  --connect-timeout-ms N       bound on each connection attempt [15000]
  --max-connections N          IMAP: connections the session may hold, 0..32; reads that
                               cannot join the busy main connection run on extras
                               (opened on demand, logged out after 30 s unused) [1]
  --read-ahead BYTES           IMAP: after each listing, fetch up to BYTES of the listed
                               messages' bodies into the cache in one command, so reads
                               of them need no round trip each; for bots that read what
                               they list. 0..16777216 [0: off]
  --linger SECONDS             keep the connection this long after the last lease,
                               0..86400 (0: log out at once) [daemon default: 60]
  --lease-ttl SECONDS          lease lifetime, at most 86400 [daemon default: 300]
  --replace                    close and replace a live session of that name that
                               has a different spec
  --client-name NAME           shown in the daemon's logs [mailbroker-cli@HOSTNAME]

Tuning options (keepalive, timeouts, linger, poll interval) only apply when the session is created;
an attach keeps the creator's values.

Prints "session SESSION: STATE (created|attached)", the lease id and its expiry,
then the session's status. With --json: the ConnectResponse.
)txt";

constexpr std::string_view test_text = R"txt(Usage: mailbroker test SESSION --host HOST --user USER PASSWORD-SOURCE [OPTIONS]

Tests a connection without creating anything: the daemon connects, secures, logs in,
makes one harmless call and logs out exactly as a session with these settings would
(the same checks of who may use the name SESSION and where its secrets may go), then
reports each step with its duration. No session is created, nothing is stored, no
connection is kept.

Options: the same as `connect` (see `mailbroker connect --help`), so a connect
command line becomes a test by changing one word. The lease and session options
(--lease-ttl, --linger, --keepalive, --poll-interval, --replace, --client-name) are
accepted and have no effect; --connect-timeout-ms bounds the connection as it would.

Steps, in order, up to the first that fails:
  dns, tcp           resolving the host, connecting (the address that answered)
  tls                implicit TLS: version, certificate subject, issuer and expiry
  greeting           the server's greeting (IMAP: with its capabilities when it
                     announces them there)
  starttls           --tls starttls: STARTTLS / STLS and the TLS handshake
  capabilities       CAPABILITY / CAPA
  token              OAuth2: getting the access token
  auth               the login: mechanism and user
  first_call         IMAP: EXAMINE INBOX (read-only: nothing changes); POP3: STAT
  logout             LOGOUT / QUIT
  smtp.dns ... smtp.logout
                     with --smtp-host: the same for the SMTP leg (EHLO, AUTH, QUIT;
                     no message is sent)

Prints one line per step:
  ok   tls                 12.3 ms  TLSv1.3, CN=mail.example.com, expires 2027-01-05
then "connection test passed", or the failed step's error, "connection test FAILED
at STEP" and a "fix:" line saying what to change. Exit 0 when every step passed, 3
when one failed (as when the daemon refuses a call). With --json: the
TestConnectionResponse.
)txt";

constexpr std::string_view authorize_text = R"txt(Usage: mailbroker authorize SESSION --oauth2-client-id ID [OAUTH2 OPTIONS] --user USER
       mailbroker authorize --oauth2-connection NAME [--user USER]

Signs a mailbox user in with OAuth2 (authorization code + PKCE S256) so the daemon
holds a refresh token and no bot ever handles one. Prints the authorization URL on
stderr, listens on the loopback redirect URI, and when the browser comes back the
daemon checks `state`, redeems the code and stores the refresh token (encrypted):
for SESSION under "session:SESSION" (connect later with the same --oauth2-* options
and --oauth2-grant authorization_code), for a managed connection under
"managed:NAME" (shared) or "managed:NAME:USER" (per-user).

Options: the OAuth2 options of `connect` (--oauth2-provider microsoft | google |
custom, --oauth2-tenant, --oauth2-cloud, --oauth2-authorize-url, --oauth2-token-url,
--oauth2-redirect-uri, --oauth2-scope, --oauth2-token-ca-file), an optional password
source for the client secret, and:
  --login-hint ACCOUNT         pre-fill the account at the provider
Yahoo and MSN do not offer this flow. Waits up to --timeout [600 s] for the browser.
With --json: the CompleteAuthorizationResponse.
)txt";

constexpr std::string_view vault_text = R"txt(Usage: mailbroker vault put NAME --allow-host HOST[:PORT]... [--from-file PATH]
       mailbroker vault list
       mailbroker vault delete NAME

The daemon's vault: secrets stored AES-256-GCM encrypted in its store, named in
session specs as `vault: NAME` (e.g. --password-vault NAME, or client-secret =
vault:NAME in the daemon config). `put` reads the value from stdin (or PATH), never
from the command line; one trailing newline is dropped; at most 64 KiB.
--allow-host (required, repeatable) binds the secret to the servers it may be sent
to (HOST any port, HOST:PORT, globs such as *.corp.example, [::1]:993): a session that
would send it elsewhere, over plaintext or unverified TLS is refused. Values are
never shown again: `list` prints names, times and hosts. Needs the vault-write /
vault-list permissions of the daemon's policy.
)txt";

constexpr std::string_view folders_text = R"txt(Usage: mailbroker folders LEASE_ID [--pattern PATTERN] [--regex REGEX]

Lists the folders of the session holding LEASE_ID (from `connect`), through its live
connection: IMAP LIST PATTERN (* = everything, % = one level) [*], then the ECMAScript
REGEX on the UTF-8 names. With --json: the ListFoldersResponse.
)txt";

constexpr std::string_view messages_text = R"txt(Usage: mailbroker messages LEASE_ID [--folder FOLDER] [--unread] [--from TEXT] [--subject TEXT] [--limit N]

Lists message summaries (oldest first) of FOLDER [INBOX] in the session holding LEASE_ID,
through its live connection: uid, '*' when unread, '@' when it has attachments, date,
sender, subject (RFC 2047 decoded). --from / --subject match substrings at the server;
--limit 1..1000 [100]. Reading does not mark anything read. With --json: the
ListMessagesResponse (paging, uid validity, all fields).
)txt";

constexpr std::string_view disconnect_text = R"txt(Usage: mailbroker disconnect LEASE_ID [--force]

Releases a lease taken by `connect`. When the session's last lease goes, the session
keeps its connection for its linger time, then logs out.

  --force   log the session out now, ending every other lease on it too

Prints the session's status after the release. With --json: the DisconnectResponse.
)txt";

constexpr std::string_view renew_text = R"txt(Usage: mailbroker renew LEASE_ID

Extends a lease by its TTL (every call that names a lease renews it too).
Prints the new expiry. With --json: the RenewLeaseResponse.
)txt";

constexpr std::string_view status_text = R"txt(Usage: mailbroker status [SESSION] [--brief]
       mailbroker status [--state STATE]... [--protocol PROTOCOL] [--prefix TEXT] [--brief]

Shows one session, or every session matching the filters. Never waits on the mail
server, never shows a secret. Prints one block per session ("no sessions" if there are
none), then when listing a line with how many sessions are shown, listed and live.
The daemon answers in pages (500 sessions by default, at most 1000); this command
fetches every page.

  --state STATE         only sessions in STATE (repeatable: any of them): CONNECTING,
                        AUTHENTICATING, READY, BACKOFF, FAILED or CLOSED
  --protocol PROTOCOL   only imap or pop3 sessions
  --prefix TEXT         only sessions whose name starts with TEXT
  --page-size N         sessions per call, 1 to 1000 [500]
  --brief               leave out each server's greeting and capability list
                        (StatusRequest.view = STATUS_VIEW_BRIEF): state, errors,
                        counters and the rest stay; much less to send when polling
                        thousands of sessions

A session waiting for its turn to log in (the daemon's login-concurrency-per-host and
login-rate-per-host) shows CONNECTING and a "waiting:" line.
With --json: one StatusResponse holding every page. An unknown SESSION is NOT_FOUND
(exit 3).
)txt";

constexpr std::string_view watch_text = R"txt(Usage: mailbroker watch [SESSION] [--until-state STATE]

Streams one line per state change (and lease-count change) of SESSION, or of every
session; the first lines show the current state of each. Runs until Ctrl-C (exit 0),
until --timeout passes (exit 5), or until:

  --until-state STATE   SESSION reaches STATE (exit 0): CONNECTING, AUTHENTICATING,
                        READY, BACKOFF, FAILED or CLOSED; needs SESSION

Line format: TIME SESSION [PREVIOUS ->] STATE: REASON (leases N)
With --json: one SessionEvent per line.
)txt";

constexpr std::string_view show_text = R"txt(Usage: mailbroker show LEASE_ID MESSAGE [--folder FOLDER]

Shows MESSAGE (a uid, or an EWS item id as `messages` prints it) of FOLDER [INBOX], parsed by the daemon: From, To, Cc, Subject and
Date (UTC), the text body (or, when there is none, the HTML source), then the
attachments: part id (for save-attachments --part), file name, type, size and
"inline" for parts the HTML shows. Does not mark the message read. Messages over
32 MiB are refused (FAILED_PRECONDITION). With --json: the MessageParts (every
header, both bodies, References, In-Reply-To).
)txt";

constexpr std::string_view save_attachments_text = R"txt(Usage: mailbroker save-attachments LEASE_ID MESSAGE --dir DIR [--folder FOLDER] [--part PART_ID]

Saves every attachment of MESSAGE (uid or EWS item id) in FOLDER [INBOX] (or only --part PART_ID, as
listed by `show`) into DIR (created if missing), and prints one path per file.

File names come from the sender, so they are made safe: only the last path component
is kept ('/' and '\' both count), leading dots and spaces go, control characters
become '_', long names are cut to 200 bytes; an empty name becomes "part-PART_ID".
An existing file is never overwritten: "report (2).pdf", "report (3).pdf", ... A
download that fails half-way leaves no file behind. With --json: one object per file
{"part_id", "filename", "content_type", "path", "size"}.
)txt";

constexpr std::string_view watch_mail_text = R"txt(Usage: mailbroker watch-mail LEASE_ID [--folder FOLDER]

Streams new messages of FOLDER [INBOX] as they arrive (IMAP IDLE, else polling every
--poll-interval of the session; POP3: the maildrop re-opened as often), one line
each, until Ctrl-C (exit 0), --timeout (exit 5), or the daemon ends the stream: the
lease ended (NOT_FOUND, exit 3) or the session closed (CANCELLED, exit 3). The open
stream keeps the lease alive.

Lines:
  TIME FOLDER watching (MODE): uids above N, uidvalidity V    armed; MODE is IDLE,
                                                              POLL or POP3_POLL
  TIME FOLDER watching (MODE): new items from now on           EWS_STREAMING, EWS_PULL,
                                                              GRAPH_DELTA
  TIME FOLDER new uid U [@ ]FROM  SUBJECT                      '@': has attachments
With --json: one MessageEvent per line.
)txt";

constexpr std::string_view send_text = R"txt(Usage: mailbroker send LEASE_ID --to ADDR [--to ADDR ...] [--cc ADDR ...] [--bcc ADDR ...]
                       --subject TEXT [--text TEXT | --text-file PATH] [--html-file PATH]
                       [--attach PATH ...] [--from ADDR] [--reply-to ADDR ...]

Sends a message over the SMTP leg of the session holding LEASE_ID (connect
--smtp-host; FAILED_PRECONDITION without one). The daemon builds the MIME message:
text and HTML become multipart/alternative, attachments multipart/mixed.

  --to, --cc, --bcc ADDR   one address each, repeat for more: "a@example.com" or
                           "Name <a@example.com>" (quote the name if it has a comma:
                           '"Doe, Jane" <j@example.com>'). At least one recipient.
                           Bcc goes only into the envelope.
  --from ADDR              [the session's user name, if it is an address]
  --reply-to ADDR          Reply-To header (repeatable)
  --subject TEXT           required (may be "")
  --text TEXT              plain text body
  --text-file PATH         plain text body from PATH (- for stdin), as UTF-8
  --html-file PATH         HTML body from PATH (- for stdin)
  --attach PATH            attach a file (repeatable), named by its last path
                           component; type from its extension (pdf, png, jpg, txt, csv,
                           zip, docx, xlsx, ... else application/octet-stream).
                           Everything together: at most 47 MiB (one request).

Prints "sent <MESSAGE-ID> (SIZE): SERVER REPLY", then one line per recipient:
"accepted ADDR CODE" or "REFUSED ADDR CODE ENHANCED-CODE TEXT". Exit 6 when some
recipients were refused (the others got the message); exit 3 (FAILED_PRECONDITION)
when all were, or UNAVAILABLE when the server deferred the whole message.
With --json: the SendMessageResponse (exit codes as above).
)txt";

constexpr std::string_view reply_text = R"txt(Usage: mailbroker reply LEASE_ID MESSAGE [--folder FOLDER] [--all] [--text TEXT | --text-file PATH]
                        [--html-file PATH] [--attach PATH ...] [--from ADDR]

Replies to MESSAGE (uid or EWS item id) of FOLDER [INBOX] over the session's SMTP leg (EWS: through Exchange): To is its
Reply-To (else From), the subject gets "Re: ", In-Reply-To and References are set,
and the original text is quoted below TEXT.

  --all          reply to all: the original To and Cc as well (minus yourself)
  --from ADDR    [the session's user name, if it is an address]
Bodies and attachments as for `send`. Output and exit codes as for `send`.
)txt";

constexpr std::string_view forward_text = R"txt(Usage: mailbroker forward LEASE_ID MESSAGE --to ADDR [--to ADDR ...] [--cc ADDR ...] [--folder FOLDER]
                          [--text TEXT | --text-file PATH] [--from ADDR]

Forwards MESSAGE (uid or EWS item id) of FOLDER [INBOX] over the session's SMTP leg (EWS: through Exchange), attached whole
(message/rfc822), with "Fwd: " before its subject and TEXT above it. Addresses as for
`send`. Output and exit codes as for `send`.
)txt";

std::string target_text() {
  std::string text = "\nTarget: --target, else $MAILBROKER_TARGET";
  if (const char* env = std::getenv("MAILBROKER_TARGET"); env != nullptr && *env != '\0') {
    text += std::string(" (now: ") + env + ")";
  }
  return text + ", else " + client::default_target() + "\n";
}

}  // namespace

std::string global_help() {
  std::string text = R"txt(Usage: mailbroker [GLOBAL OPTIONS] COMMAND [ARGUMENTS] [OPTIONS]

Controls mailbrokerd, the daemon that holds live, authenticated IMAP, POP3, EWS and
Microsoft Graph sessions (IMAP and POP3 with an optional SMTP leg for sending) keyed by
session name for automation bots. Bots attach to a session with a lease; this tool does the same from a shell,
and shows what the daemon holds.

Commands:
  connect SESSION ...     create or attach to a session and take a lease
  test SESSION ...        test a connection step by step (connect's options);
                          creates and stores nothing
  disconnect LEASE_ID     release a lease (--force: log the session out)
  renew LEASE_ID          extend a lease by its TTL
  status [SESSION]        show one session, or all (--state, --protocol, --prefix)
  watch [SESSION]         stream state changes until Ctrl-C or --until-state
  authorize SESSION ...   sign a user in with OAuth2 (browser); the daemon keeps the token
  vault put|list|delete   the daemon's encrypted secrets
  folders LEASE_ID        list the folders of a session's mailbox
  messages LEASE_ID       list message summaries of a folder
  show LEASE_ID MESSAGE   show a message: headers, body, attachment list
  save-attachments LEASE_ID MESSAGE --dir DIR
                          save a message's attachments (safe names, no overwrite)
  watch-mail LEASE_ID     stream new messages of a folder until Ctrl-C
  send LEASE_ID --to ADDR --subject TEXT ...
                          send a message (text, HTML, attachments) over SMTP
  reply LEASE_ID UID      reply (--all: to all) to a message
  forward LEASE_ID MESSAGE --to ADDR
                          forward a message as an attachment
  help [COMMAND]          this help, or a command's (same as COMMAND --help)
)txt";
  text += global_options_text;
  text += target_text();
  text += exit_codes_text;
  return text;
}

std::string command_help(std::string_view command) {
  std::string_view body;
  if (command == "connect") body = connect_text;
  else if (command == "test") body = test_text;
  else if (command == "disconnect") body = disconnect_text;
  else if (command == "renew") body = renew_text;
  else if (command == "status") body = status_text;
  else if (command == "watch") body = watch_text;
  else if (command == "authorize") body = authorize_text;
  else if (command == "vault") body = vault_text;
  else if (command == "folders") body = folders_text;
  else if (command == "messages") body = messages_text;
  else if (command == "show") body = show_text;
  else if (command == "save-attachments") body = save_attachments_text;
  else if (command == "watch-mail") body = watch_mail_text;
  else if (command == "send") body = send_text;
  else if (command == "reply") body = reply_text;
  else if (command == "forward") body = forward_text;
  else return {};
  std::string text(body);
  text += global_options_text;
  text += exit_codes_text;
  return text;
}

}  // namespace mailbroker::cli
