#pragma once
// One persistent HTTP/1.1 connection (keep-alive) to one endpoint: an EWS session's
// single HTTPS connection that carries all its SOAP requests, as an IMAP session keeps
// one IMAP connection (Graph sessions will hold a few). Transport, TLS verification, SNI
// and dead-peer detection come from net::mail_stream; the response parser is
// net::http_response_parser; cookies live in net::http_cookie_jar.
//
// Usage (in the session's coroutine):
//   http_connection conn(strand, endpoint, options, make_basic_authenticator(u, p));
//   auto report = co_await conn.open();            // optional: send() opens when needed
//   auto resp = co_await conn.send({"POST", "/EWS/Exchange.asmx", "text/xml; charset=utf-8", soap});
//   if (!resp) ... resp.err().code ...; else resp->status, resp->body
//
// Between requests the connection idles with one read pending, so a server that closes
// an idle keep-alive connection is noticed at once: set_on_lost() reports it and the
// next send() opens a new connection (no request is lost: nothing was written).
//
// Threading: not thread-safe, no locks. Use it from one strand (the session's) and pass
// that strand's executor to the constructor (the idle read runs there). One request at a
// time: a send() while another send() or open() is in progress fails with
// failed_precondition. The object must outlive its pending operations; close() or the
// destructor aborts them.
//
// Limits (options): max_header_bytes bounds the response header and any line buffered
// without progress (chunk-size lines, trailers); max_body_bytes bounds a response body
// (the read stops at the limit); at most max_response_header_fields header fields;
// at most 8 interim (1xx) responses per request; at most max_auth_legs 401 answers per
// request; cookies as http_cookie_jar says.
//
// No-secrets rule: nothing here logs. Error messages start with "https://host:port: ",
// name the step and the cause, and never contain a request or response header value,
// a body, a cookie or a credential.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "net/asio.hpp"
#include "net/connection_trace.hpp"
#include "net/http_authenticator.hpp"
#include "net/http_authenticators.hpp"
#include "net/http_cookie_jar.hpp"
#include "net/http_message.hpp"

namespace mailbroker::net {

class mail_stream;

// 401 answers handed to the authenticator per request (NTLM needs 2: negotiate is sent
// up front, the challenge is answered once; 3 when the first request went without).
inline constexpr int max_auth_legs = 3;
// Interim responses (100 Continue, 102 Processing) skipped before giving up.
inline constexpr int max_interim_responses = 8;

struct http_connection_options {
  std::shared_ptr<asio::ssl::context> tls;  // required when endpoint.tls (see make_client_tls_context)
  bool verify_host = true;                  // the certificate must name endpoint.host
  std::chrono::milliseconds connect_timeout{10000};  // DNS + TCP + TLS
  // Write the request + read the whole response. For send_streaming: write + response
  // header, then each wait for the next piece of a streamed body (an idle gap, not the
  // stream's total length: set it above the server's heartbeat interval).
  std::chrono::milliseconds request_timeout{30000};
  std::size_t max_header_bytes = 64 * 1024;
  std::size_t max_body_bytes = 64 * 1024 * 1024;  // per response; larger → unavailable, connection closed
  std::chrono::seconds dead_peer_timeout{15};     // TCP keepalive + TCP_USER_TIMEOUT; 0 = off
  std::string user_agent = "mailbroker/0.1";
  // Connection tests only: records DNS / TCP / TLS of the next open (connection_trace.hpp).
  std::shared_ptr<connection_trace> trace;
  // Where to connect instead of endpoint.host / endpoint.port ("" / 0 = the endpoint's),
  // as curl --resolve does: the endpoint's host still goes in SNI, the certificate check,
  // Host and the cookie jar. Autodiscover tests map names such as autodiscover.example.test
  // to 127.0.0.1 with it; nothing else sets it.
  std::string connect_host;
  std::uint16_t connect_port = 0;
};

// What opening took, for TestConnection.
struct open_report {
  std::chrono::microseconds dns{}, tcp{}, tls{};
  std::string peer_address;  // the IP address connected to
  std::string tls_version;   // "TLSv1.3"; "" for plain http
  std::string cert_subject;  // RFC 2253, e.g. "CN=mail.example.com"; "" for plain http
  std::optional<std::chrono::system_clock::time_point> cert_not_after;
};

class http_connection {
 public:
  using body_sink = std::function<bool(std::string_view)>;

  // `auth` may be null: requests then go without Authorization and a 401 is returned
  // as a response.
  http_connection(asio::any_io_executor executor, http_endpoint endpoint, http_connection_options options,
                  std::shared_ptr<http_authenticator> auth);
  ~http_connection();
  http_connection(const http_connection&) = delete;
  http_connection& operator=(const http_connection&) = delete;

  // DNS, TCP, TLS (chain verified by options.tls, host name when verify_host, SNI for
  // names); no request yet. An open connection is closed first. Resets the
  // authenticator (a handshake belongs to one TCP connection).
  // Errors: invalid_argument (no host; https without options.tls; a timeout <= 0),
  // unavailable (cannot resolve / connect / TLS handshake failed), failed_precondition
  // (the certificate does not verify; OpenSSL's reason is in the message),
  // deadline_exceeded (connect_timeout expired), resource_exhausted (out of file
  // descriptors), failed_precondition when a request is in progress.
  awaitable<result<open_report>> open();

  // Sends `request` and reads its whole response; any status is a success (a 500 is a
  // response). Opens the connection first if it is not open. Adds Host, User-Agent,
  // Connection: keep-alive, Authorization (from the authenticator), Cookie (what this
  // endpoint set: affinity cookies such as X-BackEndCookie must come back), Content-Type
  // and Content-Length. On 401 with WWW-Authenticate it gives the challenges to the
  // authenticator's respond() and re-sends the request on the same connection (at most
  // max_auth_legs times). When the connection idled and the server had closed it (noticed
  // before any byte of the request was written: by the idle read, or a write that fails),
  // it opens a new connection once and sends there. The response's Connection: close is
  // honoured (the next send opens a new connection).
  // Errors:
  //   invalid_argument     the request is malformed (see build_request_head)
  //   unavailable          open() failures; the server closed before the request was
  //                        written; a malformed response; header or body over its limit
  //                        (the connection is closed, memory stays within the limit);
  //                        the server closed during an authentication handshake
  //   failed_precondition  the certificate does not verify; another request in progress
  //   deadline_exceeded    connect_timeout or request_timeout expired
  //   aborted              outcome unknown: the connection dropped after the whole
  //                        request was written and before the response was complete
  //                        (a non-idempotent request may or may not have taken effect)
  //   unauthenticated      from the authenticator (credentials refused), or the server
  //                        still answers 401 after max_auth_legs answers
  //   cancelled            close() was called while the request was in progress
  //   (any code)           the authenticator's authorization() errors, unchanged
  awaitable<result<http_response>> send(http_request request);

  // Same, but a 2xx response's body goes to `on_data` piece by piece as it arrives
  // (chunked streaming responses such as EWS GetStreamingEvents, open for minutes with
  // one XML document per chunk); the returned response then has an empty body. There is
  // no total limit; one chunk announcing more than max_body_bytes fails (unavailable).
  // `on_data` returning false stops reading: the connection is closed and the response
  // (status, headers) is returned as a success. Responses other than 2xx (a 401 being
  // answered, a 500) are read whole as by send() and on_data is not called.
  // Errors: as send().
  awaitable<result<http_response>> send_streaming(http_request request, body_sink on_data);

  // Closes at once; a pending send() fails with cancelled. on_lost is not called.
  void close();
  bool is_open() const;

  // Called when the open, idle connection is lost (the server closed it, reset it, the
  // dead-peer timeout fired, or it sent bytes nobody asked for), with an unavailable
  // error naming the cause; like an IMAP connection noticing a drop. Called on the
  // connection's executor, at most once per opened connection, never for close() nor
  // for failures a send() reports. The callback may destroy the connection.
  void set_on_lost(std::function<void(error)> fn) { on_lost_ = std::move(fn); }

  std::uint64_t requests_sent() const { return requests_sent_; }  // every request written, auth legs included
  std::uint64_t bytes_in() const;                                 // over all connections opened (TLS: decrypted)
  std::uint64_t bytes_out() const;
  const http_endpoint& endpoint() const { return endpoint_; }

 private:
  struct idle_watch;

  awaitable<result<http_response>> exchange(http_request request, body_sink* on_data);
  awaitable<result<open_report>> open_stream();
  awaitable<error> write_request(std::string head, const std::string& body,
                                 std::chrono::steady_clock::time_point deadline);
  awaitable<result<http_response>> read_response(bool head_request, body_sink* on_data,
                                                 std::chrono::steady_clock::time_point deadline, bool& keep_alive);
  awaitable<std::size_t> read_more(std::chrono::steady_clock::time_point deadline, error_code& ec, bool& expired);
  awaitable<void> stop_idle_watch();
  void start_idle_watch();
  void idle_watch_finished(const std::shared_ptr<idle_watch>& watch);
  void close_stream();
  error failure(errc code, const std::string& what) const { return error{code, endpoint_.origin() + ": " + what}; }

  asio::any_io_executor executor_;
  http_endpoint endpoint_;
  http_connection_options options_;
  std::shared_ptr<http_authenticator> auth_;
  std::shared_ptr<mail_stream> stream_;
  std::string in_;  // bytes read and not yet parsed
  http_cookie_jar cookies_;
  std::shared_ptr<idle_watch> watch_;
  std::function<void(error)> on_lost_;
  bool busy_ = false;
  bool reused_ = false;       // the open connection completed an exchange (it idled)
  bool closed_by_user_ = false;
  std::uint64_t requests_sent_ = 0;
  std::uint64_t retired_in_ = 0, retired_out_ = 0;  // counters of connections replaced
};

}  // namespace mailbroker::net
