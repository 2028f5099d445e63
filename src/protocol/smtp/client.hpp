#pragma once
// An asynchronous SMTP submission client (RFC 5321, RFC 6409) on top of
// net::mail_stream: implicit TLS (port 465), STARTTLS (587) or plain.
//
// Lifecycle: open() (TCP, TLS or STARTTLS, 220 greeting, EHLO) → login() or
// authenticate_oauth() → any number of send()/noop()/rset() → quit().
//
// Unlike imap::client there is no background reader: SMTP servers speak only when
// spoken to, so every reply is read by the command that asked for it. A server that
// drops an idle connection is noticed by the next command (unavailable), which is
// why a session should noop() before a send() after a long idle time.
//
// Threading: every member must be called from the executor (strand) given to the
// constructor, one call at a time (a second concurrent call fails with internal).
// Passwords and tokens are never logged, kept, or put into error messages.
//
// Errors, common to every call: unavailable (connection refused / lost, protocol
// error, 4xx where noted), deadline_exceeded (a call's timeout expired: the
// connection is then closed). Messages name the command and carry the server's
// reply code, enhanced code and text, cleaned of control characters.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "net/asio.hpp"
#include "net/deadline_guard.hpp"
#include "net/mail_stream.hpp"
#include "protocol/smtp/reply.hpp"
#include "protocol/smtp/reply_parser.hpp"

namespace mailbroker::smtp {

enum class tls_mode { implicit, starttls, plain };

struct connect_options {
  std::string host;
  std::uint16_t port = 465;
  tls_mode tls = tls_mode::implicit;
  std::string tls_server_name;  // name to verify / send as SNI; empty = host
  bool verify_certificate = true;
  std::chrono::milliseconds timeout{15000};  // bounds open(), login(), authenticate_oauth() each
  std::string helo_domain = "localhost";     // our name in EHLO/HELO
  // A peer that acknowledges nothing for this long is dead (TCP keepalive and
  // TCP_USER_TIMEOUT, net::mail_stream::set_dead_peer_timeout); 0 = system default.
  std::chrono::seconds dead_peer_timeout{15};
  // Records the connection's phases for a connection test (net/connection_trace.hpp);
  // null = none.
  std::shared_ptr<net::connection_trace> trace;
};

struct envelope {
  std::string from;                     // reverse-path without <>; "" = null sender
  std::vector<std::string> recipients;  // forward-paths without <>; at least one
};

// The server's answer to one RCPT TO.
struct recipient_result {
  std::string address;
  int code = 0;               // 250/251 accepted; 4xx/5xx refused
  std::string enhanced_code;  // "5.1.1", or "" when the server sends none
  std::string text;           // the reply text, cleaned
  bool accepted = false;
};

struct send_result {
  std::vector<recipient_result> recipients;  // one per envelope recipient, in order
  int data_code = 0;                         // 250
  std::string data_text;                     // e.g. "OK: queued as 12345"
};

class client : public std::enable_shared_from_this<client> {
 public:
  client(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls_context);
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // Connects, secures, reads the 220 greeting and sends EHLO (HELO when EHLO is
  // refused with 5xx), all within options.timeout. With tls_mode::starttls: STARTTLS,
  // the TLS handshake, then EHLO again (capabilities learnt in clear are dropped).
  // Errors: unavailable (unreachable, dropped, timeout, a greeting other than 220),
  // failed_precondition (certificate does not verify; STARTTLS requested but not
  // offered or refused), invalid_argument (helo_domain is not a domain or literal).
  awaitable<error> open(connect_options options);

  // AUTH PLAIN (initial response) if offered, else AUTH LOGIN. Errors:
  // unauthenticated (5xx such as 535: the message has the server's text, never the
  // password), unavailable (4xx such as 454), failed_precondition (neither offered).
  awaitable<error> login(std::string user, std::string password);

  // AUTH OAUTHBEARER (RFC 7628, preferred) or XOAUTH2 with an initial response. When
  // the server rejects the token with a 334 error challenge, it is answered as the
  // mechanism requires (OAUTHBEARER: %x01, XOAUTH2: an empty line) and described in
  // the error. Returns the mechanism used. Errors: unauthenticated (5xx),
  // unavailable (4xx), failed_precondition (neither mechanism offered).
  awaitable<result<std::string>> authenticate_oauth(std::string user, std::string access_token);

  // One mail transaction, bounded by `timeout`:
  //   checks first, before anything is sent: every address (check_address);
  //   non-ASCII addresses need SMTPUTF8 (else invalid_argument naming the address);
  //   8-bit bytes in `message` need 8BITMIME (else failed_precondition); the size
  //   (after CRLF normalisation) must fit a SIZE limit (else failed_precondition
  //   naming both numbers);
  //   MAIL FROM (SIZE=n when SIZE is offered, BODY=8BITMIME for 8-bit messages,
  //   SMTPUTF8 for non-ASCII addresses), RCPT TO per recipient (refusals are kept in
  //   the result and do not abort), DATA with dot-stuffed, CRLF-normalised bytes when
  //   at least one recipient was accepted. After any refusal RSET is sent so the
  //   connection stays usable for the next transaction.
  // `message` is the complete RFC 5322 message (headers, blank line, body); line ends
  // may be LF or CRLF. Returns the result once DATA got 250 (some recipients may
  // still have been refused: look at recipients[i].accepted).
  // Errors: failed_precondition when no recipient was accepted (the message lists
  // each address with its code and text); MAIL or DATA refused: unavailable (4xx) or
  // failed_precondition (5xx) with the server text; invalid_argument for an empty
  // recipient list or a malformed address; aborted "outcome unknown: ..." when the
  // whole message up to its final "." was written but no reply came (dropped or timed
  // out): the server may have accepted it, so a retry could send it twice. Any other
  // failure (unavailable / deadline_exceeded) happened before the final "." was
  // written: nothing was accepted, a retry is safe.
  awaitable<result<send_result>> send(envelope env, std::string message, std::chrono::milliseconds timeout);

  // NOOP / RSET; any reply other than 250 is unavailable.
  awaitable<error> noop(std::chrono::milliseconds timeout);
  awaitable<error> rset(std::chrono::milliseconds timeout);

  // QUIT, the TLS close and the socket close, bounded by `timeout`; never fails (the
  // peer may be gone).
  awaitable<void> quit(std::chrono::milliseconds timeout);

  // Drops the connection at once. `why` is for the caller's log; SMTP has no
  // command waiting in the background that could receive it.
  void close(const error& why);

  bool is_open() const { return open_ && stream_.is_open(); }
  bool tls_active() const { return stream_.tls_active(); }
  const std::string& greeting() const { return greeting_; }
  const ehlo_capabilities& capabilities() const { return caps_; }
  std::uint64_t commands_sent() const { return commands_sent_; }
  std::uint64_t bytes_in() const { return stream_.bytes_in(); }
  std::uint64_t bytes_out() const { return stream_.bytes_out(); }

 private:
  class call_scope;

  awaitable<result<reply>> read_reply();
  awaitable<error> write(std::string data, std::chrono::milliseconds timeout);
  awaitable<result<reply>> command(std::string line, std::chrono::milliseconds timeout);
  awaitable<error> hello(std::string domain, std::chrono::milliseconds timeout);
  awaitable<result<reply>> authenticate(std::string first_line, std::vector<std::string> answers,
                                        std::string error_answer, std::string* challenge,
                                        std::chrono::milliseconds timeout);
  awaitable<void> reset_after_refusal(std::chrono::milliseconds timeout);
  void drop();

  asio::any_io_executor executor_;
  net::mail_stream stream_;
  reply_parser parser_;
  std::string inbuf_;  // bytes read but not parsed yet
  ehlo_capabilities caps_;
  std::string greeting_;
  std::chrono::milliseconds auth_timeout_{15000};  // connect_options::timeout
  bool open_ = false;
  bool busy_ = false;  // a call is in progress
  std::uint64_t commands_sent_ = 0;
};

}  // namespace mailbroker::smtp
