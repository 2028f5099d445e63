#pragma once
// A session's SMTP leg: one submission connection, opened on the first send and kept
// for the next ones. Before reusing a connection that sat idle it sends NOOP, and opens
// a new one when the server dropped it (servers close idle SMTP connections after a few
// minutes, RFC 5321 4.5.3.2.7) — nothing of the message has been sent at that point, so
// that retry is safe. A failure after MAIL FROM is reported, never retried: the message
// may or may not have been accepted.
//
// Threading: on the session's strand only.
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/error.hpp"
#include "net/asio.hpp"
#include "protocol/smtp/client.hpp"
#include "session/session_spec.hpp"

namespace mailbroker::session {

// The smtp::client options for `leg` (TLS mode, server name, verification), open()
// bounded by `timeout`. Shared with connection tests (connection_probe.hpp).
smtp::connect_options smtp_connect_options(const smtp_leg& leg, std::chrono::milliseconds timeout);

class smtp_sender {
 public:
  struct credentials {
    std::string user;
    std::string secret;  // password or access token; wiped after use
    bool oauth = false;
  };
  using credentials_fn = std::function<awaitable<result<credentials>>()>;

  smtp_sender(asio::any_io_executor strand, smtp_leg leg, std::chrono::milliseconds timeout, credentials_fn creds);
  ~smtp_sender();

  // Submits one message. Errors: as smtp::client::send(), plus those of connecting and
  // logging in (unauthenticated, unavailable, failed_precondition).
  awaitable<result<smtp::send_result>> send(smtp::envelope env, std::string message);
  // QUIT, if connected.
  awaitable<void> close();

  std::uint64_t messages_sent() const { return messages_sent_; }
  std::uint64_t send_failures() const { return send_failures_; }
  // The last failed send's error (no secret in it) and when.
  const std::optional<error>& last_error() const { return last_error_; }
  std::chrono::system_clock::time_point last_error_at() const { return last_error_at_; }
  bool connected() const { return client_ && client_->is_open(); }

 private:
  awaitable<error> connect();

  asio::any_io_executor strand_;
  smtp_leg leg_;
  std::chrono::milliseconds timeout_;
  credentials_fn creds_;
  std::shared_ptr<asio::ssl::context> tls_;
  std::shared_ptr<smtp::client> client_;
  std::chrono::steady_clock::time_point last_used_{};
  std::uint64_t messages_sent_ = 0;
  std::uint64_t send_failures_ = 0;
  std::optional<error> last_error_;
  std::chrono::system_clock::time_point last_error_at_{};
};

}  // namespace mailbroker::session
