#pragma once
// The session's main connection, whatever its protocol: what the session's connection
// loop needs (open, log in, keep alive, log out, notice a drop) behind one interface, so
// the state machine is written once for IMAP and POP3. Operations reach the protocol
// client itself through imap() / pop3().
//
// Threading: like the clients it wraps — on the session's strand only.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "net/asio.hpp"
#include "net/connection_trace.hpp"
#include "protocol/imap/client_limits.hpp"
#include "session/ews_discovery.hpp"
#include "session/session_spec.hpp"
#include "session/status.hpp"

namespace mailbroker::imap {
class client;
}
namespace mailbroker::pop3 {
class client;
}
namespace mailbroker::ews {
class client;
}
namespace mailbroker::graph {
class client;
}

namespace mailbroker::session {

class upstream {
 public:
  virtual ~upstream() = default;

  // Connects, secures and reads the greeting (and capabilities) per `spec`.
  virtual awaitable<error> open(const session_spec& spec) = 0;
  virtual awaitable<error> login(std::string user, std::string password) = 0;
  // Returns the SASL mechanism used.
  virtual awaitable<result<std::string>> authenticate_oauth(std::string user, std::string access_token) = 0;
  virtual awaitable<error> noop(std::chrono::milliseconds timeout) = 0;
  // Ends the session politely (IMAP LOGOUT, POP3 QUIT); never fails.
  virtual awaitable<void> logout(std::chrono::milliseconds timeout) = 0;
  virtual void close(const error& why) = 0;
  // Called once when the connection drops while idle (IMAP: noticed at once by its
  // reader; POP3 has no unsolicited data, so the next command notices).
  virtual void set_on_lost(std::function<void(error)> on_lost) = 0;
  virtual bool is_open() const = 0;

  // Waits for news of the watched folders until news, `max` or interrupt_wait(): IMAP
  // IDLE (RFC 2177) on `folder_wire`, the folder the connection has selected; EWS
  // GetStreamingEvents on the watches' streaming subscriptions (a connection of its own).
  // Returns false when it cannot wait that way (then the session sleeps for its poll
  // interval).
  virtual awaitable<result<bool>> wait_for_news(const std::string& /*folder_wire*/, std::chrono::milliseconds /*max*/,
                                                std::chrono::milliseconds /*timeout*/) {
    co_return false;
  }
  // Ends a wait_for_news() in progress at once (a call was queued).
  virtual void interrupt_wait() {}
  // Whether wait_for_news() can wait for the watches on `folders_wire` (one entry per
  // watch) while `selected` is the connection's selected folder. IMAP IDLE: every watch is
  // on the selected folder. EWS: every watch has a streaming subscription.
  virtual bool waits_on(const std::vector<std::string>& folders_wire, const std::string& selected) const {
    return !folders_wire.empty() &&
           std::all_of(folders_wire.begin(), folders_wire.end(), [&](const std::string& f) { return f == selected; });
  }

  virtual std::string greeting() const = 0;
  virtual std::vector<std::string> capabilities() const = 0;
  virtual std::uint64_t commands_sent() const = 0;
  virtual std::uint64_t bytes_in() const = 0;
  virtual std::uint64_t bytes_out() const = 0;

  virtual imap::client* imap() { return nullptr; }
  virtual pop3::client* pop3() { return nullptr; }
  virtual ews::client* ews() { return nullptr; }
  virtual graph::client* graph() { return nullptr; }

  // HTTP sessions (EWS, Graph): how many reads may run side by side (one per request slot
  // of the pool), and the pool and throttling for Status. IMAP pipelines by its own rule.
  virtual std::size_t parallel_reads() const { return 1; }
  virtual std::optional<http_status> http() const { return std::nullopt; }
};

// What bounds a connection, from session_settings.
struct upstream_options {
  imap::client_limits imap;  // IMAP only
  // TCP keepalive + TCP_USER_TIMEOUT (net::mail_stream::set_dead_peer_timeout); 0 = off.
  std::chrono::seconds dead_peer_timeout{15};
  // OAuth2 sessions over HTTP (EWS): a current access token, asked for before each
  // keepalive (the token cache refreshes it ahead of expiry). IMAP and POP3 use the
  // token only to log in.
  std::function<awaitable<result<std::string>>()> fresh_token;
  // Tells the token cache the server refused this access token (Graph: a 401), so the next
  // fresh_token() fetches a new one.
  std::function<void(const std::string&)> reject_token;
  // Connection tests only: records the connection's phases (net/connection_trace.hpp).
  std::shared_ptr<net::connection_trace> trace;
  // EWS: connections in the session's pool (protocol/ews/client.hpp); 1 for tests.
  std::size_t http_connections = 1;
  // EWS sessions configured by address: the run-time check of where credentials may go,
  // the URL found for this session, the test hook (session/ews_discovery.hpp).
  ews_discovery_hooks ews_discovery;
};

// An unopened connection for spec.proto (IMAP, POP3 or EWS).
std::shared_ptr<upstream> make_upstream(protocol proto, asio::any_io_executor executor,
                                        std::shared_ptr<asio::ssl::context> tls_context,
                                        upstream_options options = {});

}  // namespace mailbroker::session
