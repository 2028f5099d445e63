#pragma once
// An asynchronous POP3 client connection (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS,
// RFC 5034 AUTH) on top of net::mail_stream. Same shape as imap::client.
//
// Lifecycle: open() (TCP, TLS or STLS, greeting, CAPA) → login() or
// authenticate_oauth() → any number of stat()/list()/top()/retrieve()/dele()/rset()/
// noop() → quit(). Once open() succeeds a reader coroutine keeps one read pending, so a
// server that drops the connection while we are idle (Dovecot says "-ERR Disconnected
// for inactivity" first) is noticed at once and reported through `on_lost`.
//
// Threading: every member must be called from the executor (strand) given to the
// constructor. One command is in flight at a time: callers serialise them (the
// session's operation queue does); a second concurrent call fails with internal.
//
// Errors common to every command: unavailable when the connection is (or becomes)
// unusable — dropped, closed, a reply that cannot be framed —, deadline_exceeded when
// the command's reply did not complete within its `timeout` (the whole reply: for
// retrieve() that includes the transfer). Both leave the connection closed, since a
// POP3 reply cannot be abandoned half-read. Passwords and tokens are never logged, kept
// or put into an error; server text (which may name the user) is.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "net/asio.hpp"
#include "net/mail_stream.hpp"
#include "protocol/pop3/reply.hpp"
#include "protocol/pop3/reply_parser.hpp"

namespace mailbroker::pop3 {

enum class tls_mode { implicit, starttls, plain };

struct connect_options {
  std::string host;
  std::uint16_t port = 995;
  tls_mode tls = tls_mode::implicit;  // starttls = STLS on the plain port (110)
  std::string tls_server_name;        // name to verify / send as SNI; empty = host
  bool verify_certificate = true;
  std::chrono::milliseconds timeout{15000};  // bounds open(), and login() each
  // A peer that acknowledges nothing for this long is dead (TCP keepalive and
  // TCP_USER_TIMEOUT, net::mail_stream::set_dead_peer_timeout); 0 = system default.
  std::chrono::seconds dead_peer_timeout{15};
  // Records the connection's phases for a connection test (net/connection_trace.hpp);
  // null = none.
  std::shared_ptr<net::connection_trace> trace;
};

// One message of the maildrop: LIST and UIDL merged by message number.
struct message_entry {
  std::uint32_t number = 0;    // 1-based, valid for this connection only
  std::uint64_t size = 0;      // octets as the server counts them (CRLF line ends)
  std::string unique_id;       // UIDL: stable across connections, case-sensitive
  bool operator==(const message_entry&) const = default;
};

// The largest reply top() accepts; a longer one closes the connection.
inline constexpr std::size_t max_top_bytes = 4 * 1024 * 1024;

class client : public std::enable_shared_from_this<client> {
 public:
  client(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls_context);
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // Connects, secures, reads the greeting and asks CAPA, within options.timeout. A -ERR
  // to CAPA means "no capabilities" (RFC 1939 servers), not a failure. With STLS the
  // capabilities learnt in clear are discarded and asked again over TLS.
  // Errors: unavailable (unreachable, dropped, timeout, -ERR greeting: the message
  // carries the server's text), failed_precondition (certificate does not verify; STLS
  // requested but not in CAPA, or refused).
  awaitable<error> open(connect_options options);

  // AUTH PLAIN (initial response, RFC 5034) when CAPA's SASL lists PLAIN, else USER/
  // PASS. CAPA is asked again afterwards (the transaction state may offer more, e.g.
  // UIDL). Errors: unauthenticated (the server said -ERR; the message carries its code
  // and text), unavailable (-ERR with [SYS/TEMP], [SYS/PERM], [IN-USE] or
  // [LOGIN-DELAY]: not the credentials' fault), failed_precondition (CAPA offers
  // neither SASL PLAIN nor USER, e.g. plaintext logins disabled without TLS).
  awaitable<error> login(std::string user, std::string password);

  // AUTH OAUTHBEARER (preferred, RFC 7628) or XOAUTH2, whichever SASL lists. A rejected
  // token's error challenge ("+ base64 JSON") is answered as the mechanism requires
  // (OAUTHBEARER: %x01, XOAUTH2: an empty line) and the final -ERR reported. Returns
  // the mechanism used. Errors: unauthenticated (the message carries the server's text
  // and the challenge's status and scope), unavailable (as for login()),
  // failed_precondition (neither mechanism offered).
  awaitable<result<std::string>> authenticate_oauth(std::string user, std::string access_token);

  // STAT. -ERR → failed_precondition (not logged in); a malformed reply → unavailable.
  awaitable<result<maildrop_stat>> stat(std::chrono::milliseconds timeout);

  // LIST then UIDL, merged by message number, in ascending order. Errors:
  // failed_precondition (UIDL not in CAPA or refused; LIST refused), unavailable
  // (malformed listing, or LIST and UIDL disagree on the message numbers).
  awaitable<result<std::vector<message_entry>>> list(std::chrono::milliseconds timeout);

  // TOP number lines: the header block, the blank line and `lines` body lines, with
  // CRLF line ends, dot-unstuffed. Errors: not_found (-ERR: no such message, or
  // deleted), failed_precondition (TOP not in CAPA), resource_exhausted (reply over
  // max_top_bytes: the connection is closed).
  awaitable<result<std::string>> top(std::uint32_t number, std::uint32_t lines, std::chrono::milliseconds timeout);

  // RETR, streamed: `sink` gets the message's dot-unstuffed bytes (CRLF line ends) in
  // order, in chunks of about 64 KiB at most, called on the strand while the reply is
  // read (nothing more is buffered). An error from the sink aborts: the connection is
  // closed (the reply cannot be abandoned mid-way) and that error is returned.
  // Errors: not_found (-ERR: no such message, or deleted), the sink's error.
  awaitable<error> retrieve(std::uint32_t number, std::function<error(std::string_view)> sink,
                            std::chrono::milliseconds timeout);

  // DELE: marks the message; committed only by a successful quit(). -ERR → not_found
  // with the server's text.
  awaitable<error> dele(std::uint32_t number, std::chrono::milliseconds timeout);
  // RSET: unmarks every message marked on this connection. -ERR → unavailable.
  awaitable<error> rset(std::chrono::milliseconds timeout);
  // NOOP (keep-alive). -ERR → unavailable.
  awaitable<error> noop(std::chrono::milliseconds timeout);

  // QUIT, then closes the connection whatever happens. +OK means the server entered
  // the UPDATE state and committed this connection's DELEs (RFC 1939 6). Errors:
  // unavailable "deletions not committed" (-ERR, or QUIT could not be written), aborted
  // "outcome unknown" when QUIT was written but no reply came (then whether they were
  // committed is unknown).
  awaitable<error> quit(std::chrono::milliseconds timeout);

  // Drops the connection at once (no QUIT: pending DELEs are not committed); a waiting
  // command fails with `why`.
  void close(const error& why);

  // Called (once, on the strand) when the connection is lost other than by quit() or
  // close(): EOF, read error, a reply that cannot be framed.
  void set_on_lost(std::function<void(error)> on_lost) { on_lost_ = std::move(on_lost); }

  bool is_open() const { return open_ && stream_.is_open(); }
  bool tls_active() const { return stream_.tls_active(); }
  const std::string& greeting() const { return greeting_; }
  // From the last CAPA (empty when the server does not support CAPA).
  const capabilities& caps() const { return caps_; }
  std::uint64_t commands_sent() const { return commands_sent_; }
  std::uint64_t bytes_in() const { return stream_.bytes_in(); }
  std::uint64_t bytes_out() const { return stream_.bytes_out(); }

 private:
  struct pending_command;
  using sink_fn = std::function<error(std::string_view)>;

  awaitable<result<reply>> read_reply_direct(reply_kind kind);
  awaitable<result<reply>> command_direct(std::string line, reply_kind kind);
  awaitable<error> read_capabilities_direct();
  awaitable<result<reply>> command(std::string line, reply_kind kind, std::string name,
                                   std::chrono::milliseconds timeout, sink_fn sink = {});
  awaitable<error> refresh_capabilities(std::chrono::milliseconds timeout);
  struct sasl_outcome;
  awaitable<result<sasl_outcome>> sasl_exchange(std::string mechanism, std::string initial_response,
                                                std::optional<std::string> error_answer);
  awaitable<error> handshake(connect_options options);
  awaitable<void> read_loop();
  bool deliver_chunk();
  void dispatch(reply r);
  void connection_lost(error why);
  awaitable<error> write_line(const std::string& line, std::chrono::milliseconds timeout);

  asio::any_io_executor executor_;
  net::mail_stream stream_;
  reply_parser parser_;
  std::string inbuf_;  // bytes read but not yet parsed (used before the reader starts)
  std::shared_ptr<pending_command> pending_;
  std::function<void(error)> on_lost_;
  std::string greeting_;
  std::string last_unsolicited_;  // a reply nobody asked for, e.g. an -ERR before a drop
  capabilities caps_;
  bool caps_known_ = false;  // CAPA answered +OK
  std::chrono::milliseconds login_timeout_{15000};
  std::string lost_reason_;  // why the connection closed, for later calls
  bool open_ = false;
  bool closing_ = false;  // quit()/close() in progress: a drop is expected
  std::uint64_t commands_sent_ = 0;
};

}  // namespace mailbroker::pop3
