#pragma once
// An asynchronous IMAP4rev1 client connection on top of net::mail_stream.
//
// Lifecycle: open() (TCP, TLS or STARTTLS, greeting, CAPABILITY) → login() → any
// number of execute()/noop() → logout(). Once open() succeeds a reader coroutine keeps
// one read pending, so a server that drops the connection (or sends BYE) while we are
// idle is noticed at once and reported through the `on_lost` callback.
//
// Threading: every member must be called from the executor (strand) given to the
// constructor. Several execute() calls may be in flight at once (pipelining, RFC 3501
// 5.5): each gets its own tagged reply, and untagged responses go to the command that
// asks for them (command_routing.hpp). The caller decides what may be pipelined (not
// commands whose effects depend on each other's order); a command with a continuation
// handler (AUTHENTICATE) and IDLE run only alone. Passwords passed to login() are never
// logged or kept.
//
// Memory: bounded by `client_limits` (client_limits.hpp) whatever the server sends.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "net/asio.hpp"
#include "net/mail_stream.hpp"
#include "protocol/imap/client_limits.hpp"
#include "protocol/imap/command.hpp"
#include "protocol/imap/command_routing.hpp"
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
  // A peer that acknowledges nothing for this long is dead: TCP keepalive and
  // TCP_USER_TIMEOUT on the socket (net::mail_stream::set_dead_peer_timeout); 0 = off.
  std::chrono::seconds dead_peer_timeout{15};
  // Records the connection's phases for a connection test (net/connection_trace.hpp);
  // null = none.
  std::shared_ptr<net::connection_trace> trace;
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
  client(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls_context,
         client_limits limits = {});
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
  // not errors; errors mean the connection is unusable (unavailable/deadline_exceeded;
  // resource_exhausted when the untagged responses held for the commands in flight
  // pass limits.max_pending_bytes: the connection is dropped).
  // Other commands may be in flight, unless this one has `on_continuation` (then none
  // may be: internal error) or a command with one, or IDLE, is in flight (same).
  // A command that changes the mailbox (changes_mailbox(): STORE, COPY, MOVE, EXPUNGE,
  // APPEND, ...) whose line was written but whose reply never came (dropped, timed out,
  // closed) fails with aborted, "outcome unknown: ...": the server may have applied it.
  // A failure before its line was written stays unavailable (safe to retry).
  awaitable<result<command_result>> execute(std::string command, std::chrono::milliseconds timeout,
                                            continuation_fn on_continuation = {});

  // Sends every command before awaiting any reply (pipelining: one round trip for all),
  // e.g. {"NOOP", "UID SEARCH ..."} so the search sees what the NOOP synchronised. The
  // results come in `commands` order. Errors as execute() (aborted once any command that
  // changes the mailbox was written); internal when two commands'
  // answers could not be told apart (see command_routing.hpp: answers_could_mix).
  awaitable<result<std::vector<command_result>>> execute_all(std::vector<std::string> commands,
                                                             std::chrono::milliseconds timeout);

  // IDLE (RFC 2177) on the selected mailbox: waits until `stop_on` returns true for an
  // untagged response (e.g. EXISTS), interrupt_idle() is called, or `max_duration`
  // passes; then sends DONE and returns the tagged reply with the untagged responses
  // stop_on accepted (at most max_idle_kept; every other untagged response is looked at
  // by stop_on and dropped, so a server chattering through a long IDLE costs no memory).
  // A server that refuses IDLE answers NO/BAD (a result, not an error). `timeout` bounds
  // the server's answers (the continuation, the reply to DONE).
  awaitable<result<command_result>> idle(std::chrono::milliseconds max_duration, std::chrono::milliseconds timeout,
                                         std::function<bool(const response&)> stop_on);
  static constexpr std::size_t max_idle_kept = 8;
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
  std::size_t in_flight() const { return in_flight_.size(); }
  bool tls_active() const { return stream_.tls_active(); }
  const std::string& greeting() const { return greeting_; }
  const std::vector<std::string>& capabilities() const { return capabilities_; }
  std::uint64_t commands_sent() const { return commands_sent_; }
  std::uint64_t bytes_in() const { return stream_.bytes_in(); }
  std::uint64_t bytes_out() const { return stream_.bytes_out(); }
  // Estimated bytes of untagged responses held for the commands in flight (see limits).
  std::size_t pending_bytes() const { return pending_bytes_; }

 private:
  struct pending_command;

  awaitable<result<response>> read_response_direct();
  awaitable<result<command_result>> execute_direct(const std::string& command);
  awaitable<error> refresh_capabilities_direct();
  awaitable<void> read_loop();
  // `cost`: the parser's estimate of r's size (response_parser::cost()).
  void dispatch(response r, std::size_t cost);
  error too_much_pending() const;
  void connection_lost(error why);
  // One line at a time on the wire: concurrent commands wait their turn to write.
  awaitable<error> write_line(const std::string& line, std::chrono::milliseconds timeout);
  // The command a tagged reply, continuation or untagged response belongs to.
  std::shared_ptr<pending_command> owner_of(const response& r) const;
  // Waits while an in-flight command's answers could mix with this one's, then
  // registers it (start_command).
  awaitable<result<std::shared_ptr<pending_command>>> begin_command(const std::string& command, bool alone);
  bool conflicts(const command_route& route) const;
  awaitable<result<command_result>> await_reply(std::shared_ptr<pending_command> cmd, std::string command,
                                                std::chrono::steady_clock::time_point deadline,
                                                std::chrono::milliseconds timeout, continuation_fn on_continuation);
  // Registers a new command; errors when pipelining is not allowed now (see execute()).
  result<std::shared_ptr<pending_command>> start_command(const std::string& command, bool alone);

 public:  // for the in-flight guard in client.cpp
  void finish_command(const std::shared_ptr<pending_command>& cmd);

 private:

  asio::any_io_executor executor_;
  client_limits limits_;
  net::mail_stream stream_;
  response_parser parser_;
  std::string inbuf_;  // bytes read but not yet parsed (used before the reader starts)
  tag_generator tags_;
  std::vector<std::shared_ptr<pending_command>> in_flight_;  // send order, oldest first
  bool writing_ = false;
  std::vector<std::shared_ptr<asio::steady_timer>> write_waiters_;
  std::vector<std::shared_ptr<asio::steady_timer>> turn_waiters_;  // begin_command() waiting
  std::function<void(error)> on_lost_;
  std::string greeting_;
  std::string bye_text_;
  std::vector<std::string> capabilities_;
  bool preauth_ = false;
  bool open_ = false;
  bool closing_ = false;  // logout()/close() in progress: a drop is expected
  bool idle_interrupted_ = false;
  std::uint64_t commands_sent_ = 0;
  std::size_t pending_bytes_ = 0;  // sum of the in-flight commands' `held`
};

}  // namespace mailbroker::imap
