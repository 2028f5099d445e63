#pragma once
// A connection test (the seed product's "Test connection" button; SessionBroker.
// TestConnection): connects, secures, logs in, makes one harmless call and logs out the
// way a session with the same spec would, and reports every step with its duration.
// Nothing is kept: no session, no store record, no connection. (An OAuth2 access token
// fetched on the way stays in the daemon's token cache, where a session would have put
// it; a refresh token the provider rotates replaces the stored one, as it must — the
// old one may stop working.)
//
// Steps, in order; names are stable (clients may match on them):
//   dns           resolving server.host            detail: the addresses
//   tcp           connecting                        detail: the endpoint that answered
//   tls           implicit TLS handshake            detail: version, certificate subject,
//                                                   issuer and expiry
//   greeting      the server's greeting             detail: its text; IMAP: with the
//                                                   capabilities when it carries them
//   starttls      STARTTLS / STLS and handshake     detail: as tls
//   capabilities  CAPABILITY / CAPA                 detail: the capability list
//   token         OAuth2 only: the access token     detail: the token endpoint
//   auth          the login                         detail: mechanism and user
//   first_call    IMAP: EXAMINE INBOX (read-only, so no \Recent flag or other state of
//                 the mailbox changes); POP3: STAT  detail: "EXAMINE INBOX: 12 messages"
//   logout        IMAP LOGOUT / POP3 QUIT
//   smtp.dns, smtp.tcp, smtp.tls | smtp.greeting + smtp.starttls, smtp.greeting,
//   smtp.ehlo, smtp.auth, smtp.logout (QUIT)       when the spec has an SMTP leg
// The first failed step ends the test: later steps are not run, connections are closed.
//
// Threading: runs on the awaiting coroutine's executor, which must be a strand (the
// protocol clients run a reader coroutine beside the caller).
#include <chrono>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "net/asio.hpp"
#include "protocol/imap/client_limits.hpp"
#include "session/credentials.hpp"
#include "session/probe_steps.hpp"
#include "session/session_spec.hpp"

namespace mailbroker::session {

struct probe_report {
  std::vector<probe_step> steps;  // at most ~20; the failed one (if any) is the last

  bool ok() const { return !steps.empty() && steps.back().ok; }
  // The failed step, or nullptr when every step passed.
  const probe_step* failed() const { return !steps.empty() && !steps.back().ok ? &steps.back() : nullptr; }
};

struct probe_settings {
  credential_sources credentials;  // must outlive the probe
  std::string session_name;        // names the OAuth2 refresh-token key, as for a session
  imap::client_limits imap_limits;
  std::chrono::milliseconds command_timeout{30000};  // bounds each command after the greeting
  // The whole test ends by then: every step's timeout is cut to it, and connections
  // still open at that time are closed (that step fails with deadline_exceeded).
  std::chrono::steady_clock::time_point deadline{};
};

// Runs the test for `spec` (normalised). Never fails as a call: every problem, the
// server's or the spec's secrets', is a failed step in the report.
awaitable<probe_report> probe_connection(session_spec spec, probe_settings settings);

}  // namespace mailbroker::session
