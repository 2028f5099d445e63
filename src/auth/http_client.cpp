#include "auth/http_client.hpp"

// Beast's HTTP and SSL parts after net/asio.hpp (pulled in by the header above), which
// must come first for Boost 1.74 + C++20.
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "auth/url.hpp"
#include "net/deadline_guard.hpp"

namespace mailbroker::auth {
namespace {

namespace http = beast::http;
using asio::redirect_error;
using tcp = asio::ip::tcp;
using clock = std::chrono::steady_clock;

// 1xx interim responses skipped before giving up: a server does not legitimately send
// more than one or two.
constexpr int max_interim_responses = 8;

// The per-call facts every error message needs.
struct call_context {
  std::string prefix;  // "POST https://host:port": never the path, query or userinfo
  std::chrono::milliseconds timeout;
  clock::time_point deadline;

  // beast::tcp_stream reports its timer as error::timeout, but an expiry can also show
  // as operation_aborted or a closed socket depending on which layer noticed first.
  bool timed_out(error_code ec) const { return ec == beast::error::timeout || clock::now() >= deadline; }

  error unavailable(const std::string& what) const { return error{errc::unavailable, prefix + ": " + what}; }

  // `during`: "while connecting"; `failed`: "cannot connect".
  error stage_failed(std::string_view during, std::string_view failed, error_code ec) const {
    if (timed_out(ec)) {
      return unavailable("timed out " + std::string(during) + " (the whole request is limited to " +
                         std::to_string(timeout.count()) + " ms)");
    }
    return unavailable(std::string(failed) + ": " + ec.message());
  }
};

bool is_ip_literal(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// The Host header: the default port is omitted, as browsers and curl do (some servers
// compare the Host header literally, e.g. in signature checks).
std::string host_header(const parsed_url& url) {
  std::string out = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  const std::uint16_t default_port = url.scheme == "https" ? 443 : 80;
  if (url.port != default_port) out += ":" + std::to_string(url.port);
  return out;
}

awaitable<result<tcp::resolver::results_type>> resolve(const parsed_url& url, const call_context& call) {
  auto executor = co_await asio::this_coro::executor;
  auto resolver = std::make_shared<tcp::resolver>(executor);
  error_code ec;
  tcp::resolver::results_type endpoints;
  bool expired = false;
  {
    // getaddrinfo runs on Asio's resolver thread and is not bounded by the stream's
    // timer (there is no stream yet); the guard cancels the wait at the deadline.
    net::deadline_guard guard(executor, call.deadline - clock::now(), [resolver] { resolver->cancel(); });
    endpoints = co_await resolver->async_resolve(url.host, std::to_string(url.port), tcp::resolver::numeric_service,
                                                 redirect_error(use_awaitable, ec));
    expired = guard.expired();
  }
  if (expired) co_return call.stage_failed("while resolving the host", "", beast::error::timeout);
  if (ec) co_return call.stage_failed("while resolving the host", "cannot resolve the host", ec);
  if (endpoints.empty()) co_return call.unavailable("the host has no addresses");
  co_return endpoints;
}

awaitable<error> connect_stream(beast::tcp_stream& stream, const tcp::resolver::results_type& endpoints,
                         const call_context& call) {
  // One expiry for everything from here on: Beast applies it to every later read and
  // write (handshake included) until it is set again, so the whole exchange shares the
  // remaining budget.
  stream.expires_at(call.deadline);
  error_code ec;
  co_await stream.async_connect(endpoints, redirect_error(use_awaitable, ec));
  if (ec) co_return call.stage_failed("while connecting", "cannot connect", ec);
  co_return error::none();
}

awaitable<error> tls_handshake(beast::ssl_stream<beast::tcp_stream>& stream, std::string host, bool verify_host,
                           const call_context& call) {
  SSL* ssl = stream.native_handle();
  const bool ip = is_ip_literal(host);
  // An absolute name ("example.com.") is the same host; SNI and certificates never
  // carry the trailing dot.
  if (!ip && !host.empty() && host.back() == '.') host.pop_back();
  // SSL_set_tlsext_host_name() spelled out: the macro hides an old-style cast. RFC 6066
  // forbids IP literals in SNI.
  if (!ip && SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                      const_cast<char*>(host.c_str())) != 1) {
    co_return error{errc::internal, call.prefix + ": cannot set the TLS server name"};
  }
  const bool verify_peer = (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) != 0;
  if (verify_peer && verify_host) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    int ok = 0;
    if (ip) {
      ok = X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    } else {
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      ok = SSL_set1_host(ssl, host.c_str());
    }
    if (ok != 1) co_return error{errc::internal, call.prefix + ": cannot set up host name verification"};
  }

  error_code ec;
  co_await stream.async_handshake(asio::ssl::stream_base::client, redirect_error(use_awaitable, ec));
  if (!ec) co_return error::none();
  if (call.timed_out(ec)) co_return call.stage_failed("during the TLS handshake", "", ec);
  // The handshake error itself only says "certificate verify failed"; the reason
  // (unknown CA, expired, host mismatch...) is what an operator can act on.
  const long verify_result = SSL_get_verify_result(ssl);
  if (verify_peer && verify_result != X509_V_OK) {
    co_return error{errc::failed_precondition, call.prefix + ": the server's TLS certificate does not verify: " +
                                                   X509_verify_cert_error_string(verify_result)};
  }
  co_return call.stage_failed("during the TLS handshake", "TLS handshake failed", ec);
}

error read_failed(const call_context& call, error_code ec, bool got_some, std::size_t max_body_bytes) {
  if (call.timed_out(ec)) return call.stage_failed("while reading the response", "", ec);
  if (ec == http::error::body_limit) {
    return call.unavailable("the response body is larger than " + std::to_string(max_body_bytes) + " bytes");
  }
  if (ec == http::error::header_limit) {
    return call.unavailable("the response header is larger than " + std::to_string(max_response_header_bytes) +
                            " bytes");
  }
  // Over TLS a close without close_notify shows as stream_truncated. Mid-response that
  // is a truncation like any other: a body cut short must never be handed on.
  if (ec == http::error::end_of_stream || ec == http::error::partial_message || ec == asio::error::eof ||
      ec == asio::ssl::error::stream_truncated || ec == asio::error::connection_reset) {
    return call.unavailable(got_some ? "the server closed the connection in the middle of the response"
                                     : "the server closed the connection without answering");
  }
  if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
    return call.unavailable("malformed HTTP response: " + ec.message());
  }
  return call.stage_failed("while reading the response", "cannot read the response", ec);
}

template <class Stream>
awaitable<result<http_response>> send_and_receive(Stream& stream, const http::request<http::string_body>& request,
                                                  const call_context& call, std::size_t max_body_bytes) {
  error_code ec;
  co_await http::async_write(stream, request, redirect_error(use_awaitable, ec));
  if (ec) co_return call.stage_failed("while sending the request", "cannot send the request", ec);

  beast::flat_buffer buffer;
  for (int interim = 0;; ++interim) {
    // A parser reads one message; interim responses need a fresh one each (the buffer
    // keeps whatever followed them).
    http::response_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(max_response_header_bytes));
    parser.body_limit(static_cast<std::uint64_t>(max_body_bytes));
    // Header first, body second. In Boost 1.74 a plain async_read parses eagerly and,
    // when the header and the body arrive in the same read, loses the body_limit error
    // raised against Content-Length (the body is then read whatever its size).
    // async_read_header stops after the header, so that check is reported.
    co_await http::async_read_header(stream, buffer, parser, redirect_error(use_awaitable, ec));
    if (!ec && !parser.is_done()) {
      co_await http::async_read(stream, buffer, parser, redirect_error(use_awaitable, ec));
    }
    if (ec) co_return read_failed(call, ec, parser.got_some() || interim > 0, max_body_bytes);
    auto message = parser.release();
    // Belt and braces for the parser bug above: never hand on more than the limit.
    if (message.body().size() > max_body_bytes) {
      co_return read_failed(call, http::error::body_limit, true, max_body_bytes);
    }
    const int status = message.result_int();
    // 100 Continue and the like precede the real answer. 101 would switch protocols,
    // which we never ask for: it is returned as is.
    if (status >= 100 && status < 200 && status != 101) {
      if (interim + 1 >= max_interim_responses) co_return call.unavailable("too many 1xx interim responses");
      continue;
    }
    http_response out;
    out.status = status;
    out.content_type = std::string(message[http::field::content_type]);
    out.body = std::move(message.body());
    co_return out;
  }
}

awaitable<result<http_response>> perform(http::verb method, std::string url_text, std::string body,
                                         std::string authorization, http_request_options options) {
  auto parsed = parse_url(url_text, options.allow_http);
  if (!parsed) co_return parsed.err();
  const parsed_url& url = *parsed;
  if (!url.userinfo.empty()) {
    co_return error{errc::invalid_argument,
                    "URL must not contain credentials before '@'; pass them as the Authorization value"};
  }
  const bool https = url.scheme == "https";
  if (https && !options.tls) {
    co_return error{errc::invalid_argument, "an https URL needs a TLS context (http_request_options.tls)"};
  }
  if (options.timeout <= std::chrono::milliseconds::zero()) {
    co_return error{errc::invalid_argument, "the HTTP request timeout must be positive"};
  }
  // Beast writes header values verbatim: a CR or LF here would let the value forge
  // headers or a second request.
  for (char c : authorization) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && c != '\t') || byte == 0x7f) {
      co_return error{errc::invalid_argument, "the Authorization value contains a control character"};
    }
  }

  const call_context call{std::string(http::to_string(method)) + " " + url.scheme + "://" + url_authority(url),
                          options.timeout, clock::now() + options.timeout};

  http::request<http::string_body> request{method, url.target, 11};
  request.set(http::field::host, host_header(url));
  request.set(http::field::user_agent, "mailbroker/0.1");
  request.set(http::field::accept, "application/json");
  request.set(http::field::connection, "close");
  if (!authorization.empty()) request.set(http::field::authorization, authorization);
  if (method == http::verb::post) {
    request.set(http::field::content_type, "application/x-www-form-urlencoded");
    request.body() = std::move(body);
  }
  request.prepare_payload();

  auto endpoints = co_await resolve(url, call);
  if (!endpoints) co_return endpoints.err();

  auto executor = co_await asio::this_coro::executor;
  // The stream (and its socket) is closed when it goes out of scope. No TLS close_notify
  // is sent or awaited: the response is complete (Content-Length, chunked, or a clean
  // close for plain http) before we stop reading, so a truncation can no longer go
  // unnoticed, and waiting for the peer's close_notify would only risk a stall.
  if (https) {
    beast::ssl_stream<beast::tcp_stream> stream(executor, *options.tls);
    if (auto e = co_await connect_stream(beast::get_lowest_layer(stream), *endpoints, call); !e.ok()) co_return e;
    if (auto e = co_await tls_handshake(stream, url.host, options.verify_host, call); !e.ok()) co_return e;
    co_return co_await send_and_receive(stream, request, call, options.max_body_bytes);
  }
  beast::tcp_stream stream(executor);
  if (auto e = co_await connect_stream(stream, *endpoints, call); !e.ok()) co_return e;
  co_return co_await send_and_receive(stream, request, call, options.max_body_bytes);
}

}  // namespace

awaitable<result<http_response>> http_post_form(std::string url, std::string form_body, std::string authorization,
                                                http_request_options options) {
  return perform(http::verb::post, std::move(url), std::move(form_body), std::move(authorization),
                 std::move(options));
}

awaitable<result<http_response>> http_get(std::string url, http_request_options options) {
  return perform(http::verb::get, std::move(url), {}, {}, std::move(options));
}

}  // namespace mailbroker::auth
