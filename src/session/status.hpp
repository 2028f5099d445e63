#pragma once
// What Status and WatchStatus report about a session. Plain values: copied out of the
// session under a mutex, so reading them never waits on the network. No secrets.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "session/session_spec.hpp"

namespace mailbroker::session {

enum class session_state { connecting, authenticating, ready, backoff, failed, closed };
std::string_view state_name(session_state s);
// FAILED and CLOSED sessions hold no connection and accept no attach: a Connect under
// their name creates a new session.
inline bool is_live(session_state s) { return s != session_state::failed && s != session_state::closed; }

using system_time = std::chrono::system_clock::time_point;

struct error_record {
  errc code = errc::ok;
  std::string message;
  system_time at{};
};

struct session_counters {
  std::uint64_t commands_sent = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t connects = 0;
};

struct token_status {
  std::string token_url;
  std::string mechanism;  // SASL mechanism last used
  std::optional<system_time> valid_until;
  std::optional<system_time> last_refresh;
  std::uint64_t refresh_count = 0;
  std::optional<error_record> last_refresh_error;
};

struct smtp_status {
  std::string host;
  std::uint16_t port = 0;
  bool connected = false;
  std::uint64_t messages_sent = 0;
  std::uint64_t send_failures = 0;
  std::optional<error_record> last_error;
};

// A session waiting for its turn to connect + log in (login_gate.hpp); its state is
// CONNECTING meanwhile.
struct login_wait {
  std::size_t ahead = 0;  // about how many logins to the same host:port go first
  system_time since{};
};

// An HTTP session's request pool and the server's throttling (EWS, Graph).
struct http_status {
  std::uint32_t connections = 0;
  std::uint32_t max_in_flight = 0;
  std::uint32_t in_flight = 0;
  std::uint32_t waiting = 0;
  std::uint64_t requests = 0;
  std::uint64_t throttled = 0;  // Graph 429 / 503 (batch members included), EWS ErrorServerBusy
  std::chrono::milliseconds last_retry_after{0};
  std::optional<system_time> throttled_until;  // set while requests are held back
  std::string mailbox;  // Graph: "/me" or "/users/{address}"; EWS: shared / impersonated
};

// An IMAP session's connections (SessionSpec.max_connections).
struct imap_connections_status {
  std::uint32_t open = 0;       // logged in: the main connection + extras
  std::uint32_t max = 1;
  std::uint32_t in_flight = 0;  // Mailbox calls running on them
  std::uint64_t extra_logins = 0;
  std::optional<error_record> last_extra_error;
};

struct status_snapshot {
  std::string name;
  session_state state = session_state::connecting;
  system_time state_since{};
  std::string host;
  std::uint16_t port = 0;
  protocol proto = protocol::imap;
  tls_mode tls = tls_mode::implicit;
  bool tls_verified = false;
  std::string greeting;
  std::vector<std::string> capabilities;
  std::string auth_mode;
  std::string username;
  std::optional<system_time> connected_since;
  std::uint32_t reconnect_count = 0;
  std::optional<error_record> last_error;
  std::uint32_t lease_count = 0;
  session_counters counters;
  std::string close_reason;
  std::optional<system_time> linger_until;
  std::optional<token_status> token;  // OAuth2 sessions only
  std::optional<smtp_status> smtp;    // sessions with an SMTP leg only
  std::uint32_t watch_count = 0;
  std::optional<login_wait> waiting_for_login;  // set only while queued for a login slot
  std::optional<http_status> http;  // EWS and Graph sessions only
  std::optional<imap_connections_status> imap;  // IMAP sessions only
};

struct status_event {
  status_snapshot status;
  session_state previous_state = session_state::connecting;
  std::string reason;
  system_time at{};
};

}  // namespace mailbroker::session
