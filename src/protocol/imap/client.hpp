#pragma once
// An asynchronous IMAP4rev1 client connection on top of net::mail_stream.
//
// Lifecycle: open() (TCP, TLS or STARTTLS, greeting, CAPABILITY) → login() → any
// number of execute()/noop() → logout(). Once open() succeeds a reader coroutine keeps
// one read pending, so a server that drops the connection (or sends BYE) while we are
// idle is noticed at once and reported through the `on_lost` callback.
//
// Threading: every member must be called from the executor (strand) given to the
// constructor. One command is in flight at a time: callers serialise them (the
// session's operation queue does). Passwords passed to login() are never logged or
// kept.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "net/asio.hpp"
#include "net/mail_stream.hpp"
#include "protocol/imap/command.hpp"
#include "protocol/imap/response.hpp"
#include "protocol/imap/response_parser.hpp"

namespace mailbroker::imap {

enum class tls_mode { implicit, starttls, plain };

struct connect_options {
  std::string host;
  std::uint16_t port = 993;
  tls_mode tls = tls_mode::implicit;
  std::string tls_server_name;  // name to verify / send as SNI; empty = host
  bool verify_certificate = true;
  std::chrono::milliseconds timeout{15000};  // bounds open() and login() each
};

struct command_result {
  std::string status;  // "OK", "NO" or "BAD"
  std::string code;    // response code of the tagged reply, e.g. "AUTHENTICATIONFAILED"
  std::string text;
  std::string code_text;  // arguments of that code, e.g. "38505 304 3956" for COPYUID
  std::vector<response> untagged;  // untagged responses received while it ran
};

// Given a continuation request's text (base64 or prose) and how many came before it,
// returns the line to send (without CRLF).
using continuation_fn = std::function<std::string(const std::string& text, int index)>;

class client : public std::enable_shared_from_this<client> {
 public:
  client(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls_context);
  ~client();

  // Connects, secures and reads the greeting and capabilities, within options.timeout.
  // Errors: unavailable (unreachable, dropped, timeout, BYE greeting),
  // failed_precondition (certificate does not verify; STARTTLS requested but not
  // offered).
  awaitable<error> open(connect_options options);

  // Authenticates with AUTHENTICATE PLAIN (SASL-IR when offered) or LOGIN, chosen from
  // the capabilities; honours LOGINDISABLED. Errors: unauthenticated (server said NO;
  // the message carries its response code and text), unavailable (temporary failure
  // or dropped connection), failed_precondition (no usable mechanism).
  awaitable<error> login(const std::string& user, const std::string& password);

  // SASL OAUTHBEARER (preferred, RFC 7628) or XOAUTH2, whichever the server offers,
  // with SASL-IR when offered. A rejected token's error challenge is answered with an
  // empty line (as the mechanisms require) and reported. Returns the mechanism used.
  // Errors: unauthenticated (token rejected: the message carries the server's status
  // and scope), unavailable (temporary failure), failed_precondition (no OAuth
  // mechanism offered).
  awaitable<result<std::string>> authenticate_oauth(const std::string& user, const std::string& access_token);

  // Sends `command` (without tag and CRLF) and waits for its tagged reply, within
  // `timeout` (on timeout the connection is closed). NO/BAD are returned as results,
  // not errors; errors mean the connection is unusable (unavailable/deadline_exceeded).
  awaitable<result<command_result>> execute(std::string command, std::chrono::milliseconds timeout,
                                            continuation_fn on_continuation = {});

  // IDLE (RFC 2177) on the selected mailbox: waits until `stop_on` returns true for an
  // untagged response (e.g. EXISTS), interrupt_idle() is called, or `max_duration`
  // passes; then sends DONE and returns the tagged reply with the untagged responses seen.
  // A server that refuses IDLE answers NO/BAD (a result, not an error). `timeout` bounds
  // the server's answers (the continuation, the reply to DONE).
  awaitable<result<command_result>> idle(std::chrono::milliseconds max_duration, std::chrono::milliseconds timeout,
                                         std::function<bool(const response&)> stop_on);
  // Ends a running idle() soon (it sends DONE); a no-op when none runs.
  void interrupt_idle();

  // NOOP; any status other than OK is an error.
  awaitable<error> noop(std::chrono::milliseconds timeout);

  // LOGOUT and close, bounded by `timeout`; never fails (the peer may be gone).
  awaitable<void> logout(std::chrono::milliseconds timeout);

  // Drops the connection at once; a waiting command fails with `why`.
  void close(const error& why);

  // Called (once, on the strand) when the connection is lost other than by logout() or
  // close(): EOF, read error, BYE, protocol error.
  void set_on_lost(std::function<void(error)> on_lost) { on_lost_ = std::move(on_lost); }

  bool is_open() const { return open_ && stream_.is_open(); }
  bool tls_active() const { return stream_.tls_active(); }
  const std::string& greeting() const { return greeting_; }
  const std::vector<std::string>& capabilities() const { return capabilities_; }
  std::uint64_t commands_sent() const { return commands_sent_; }
  std::uint64_t bytes_in() const { return stream_.bytes_in(); }
  std::uint64_t bytes_out() const { return stream_.bytes_out(); }

 private:
  struct pending_command;

  awaitable<result<response>> read_response_direct();
  awaitable<result<command_result>> execute_direct(const std::string& command);
  awaitable<error> refresh_capabilities_direct();
  awaitable<void> read_loop();
  void dispatch(response r);
  void connection_lost(error why);
  awaitable<error> write_line(const std::string& line, std::chrono::milliseconds timeout);

  asio::any_io_executor executor_;
  net::mail_stream stream_;
  response_parser parser_;
  std::string inbuf_;  // bytes read but not yet parsed (used before the reader starts)
  tag_generator tags_;
  std::shared_ptr<pending_command> pending_;
  std::function<void(error)> on_lost_;
  std::string greeting_;
  std::string bye_text_;
  std::vector<std::string> capabilities_;
  bool preauth_ = false;
  bool open_ = false;
  bool closing_ = false;  // logout()/close() in progress: a drop is expected
  bool idle_interrupted_ = false;
  std::uint64_t commands_sent_ = 0;
};

}  // namespace mailbroker::imap
