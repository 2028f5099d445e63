#pragma once
// The fake EWS server (scripts/testbed/ews.sh, scripts/testbed/ews/fake_ews.py) for integration
// tests: started in a fresh temporary state dir by the constructor (loopback, random ports,
// the testbed CA, users alice bob carol dave erin + the impersonation account svc with random
// passwords, Windows domain TESTLAB, mail domain testlab.test), stopped by the destructor.
// Control calls go to its plain-HTTP control port (never the EWS port). Not thread-safe: call
// from the test thread. Every call throws std::runtime_error (with the script's output) on failure.
#include <map>
#include <string>

namespace mailbroker::testing {

class ews_testbed {
 public:
  // `script_env` is prepended to the start command, e.g. "MB_EWS_AUTH=ntlm " or
  // "MB_EWS_OAUTH2_INTROSPECT_URL=http://id:secret@127.0.0.1:PORT/token/introspection "
  // (see the knobs at the top of scripts/testbed/ews.sh).
  explicit ews_testbed(std::string script_env = {});
  ~ews_testbed();
  ews_testbed(const ews_testbed&) = delete;
  ews_testbed& operator=(const ews_testbed&) = delete;

  // https://127.0.0.1:PORT/EWS/Exchange.asmx
  std::string ews_url() const { return env_.at("EWS_URL"); }
  // https://127.0.0.1:PORT/autodiscover/autodiscover.xml (POX, same port as EWS)
  std::string autodiscover_url() const { return env_.at("AUTODISCOVER_URL"); }
  // http://127.0.0.1:PORT/_control
  std::string control_url() const { return env_.at("CONTROL_URL"); }
  // PEM CA that signed the server certificate (localhost, 127.0.0.1, ::1, testlab.test,
  // autodiscover.testlab.test, exch01.testlab.test).
  std::string ca_file() const { return env_.at("CA_FILE"); }
  // Windows (NetBIOS) domain for DOMAIN\user logins and NTLM: "TESTLAB".
  std::string domain() const { return env_.at("EWS_DOMAIN"); }
  // Mail domain: "testlab.test"; a user's address is user@testlab.test.
  std::string mail_domain() const { return env_.at("EWS_MAIL_DOMAIN"); }
  std::string address(const std::string& user) const { return user + "@" + mail_domain(); }
  // Password of alice, bob, carol, dave, erin or svc (svc may impersonate anyone).
  std::string password(const std::string& user) const;
  const std::string& state_dir() const { return state_dir_; }
  std::string log_file() const { return env_.at("EWS_LOG"); }

  // Puts the RFC 5322 message in `file` into `folder` of `user` ("INBOX", "Inbox/Sub" -- made
  // if missing --, "Sent Items", ...) as a new, unread arrival (events fire). Returns the
  // control API's JSON: {"item_id", "change_key", "folder", "folder_id"}.
  std::string deliver(const std::string& user, const std::string& file, const std::string& folder = "INBOX") const;
  // Every recorded HTTP request (JSON array): operation, user, auth scheme, TCP connection
  // id, headers of interest, affinity cookie / X-AnchorMailbox seen, SOAP body (first 64 KiB).
  std::string requests() const;
  // Counters: requests (401s included), soap_requests (authenticated, past injected faults),
  // tcp_connections, ntlm_handshakes, ntlm_challenges, auth_failures,
  // faults, busy_sent, streams.
  std::map<std::string, long> counters() const;
  // The next `count` EWS requests get ErrorServerBusy with BackOffMilliseconds = backoff_ms.
  void set_busy(int count, int backoff_ms) const;
  // Every EWS request waits `ms` before it is answered (a LAN round trip for benchmarks).
  void set_delay(int ms) const;
  // The next EWS request: "drop" closes the connection unanswered, "stall" waits `seconds`.
  void inject(const std::string& action, int seconds = 30) const;
  // Autodiscover answers: "normal", "redirect_addr" / "redirect_url" (to `to`), "loop".
  void set_autodiscover(const std::string& mode, const std::string& to = {}) const;
  // A bearer token the fake accepts for `user` (servers started with MB_EWS_AUTH containing bearer).
  std::string mint_token(const std::string& user) const;
  // Messages sent through CreateItem / SendItem (JSON array).
  std::string sent() const;
  // Empties every mailbox and forgets requests, counters, subscriptions and injections.
  void reset() const;

 private:
  std::string control(const std::string& method, const std::string& path_and_query) const;

  std::string state_dir_;
  std::map<std::string, std::string> env_;
  bool running_ = false;
};

}  // namespace mailbroker::testing
