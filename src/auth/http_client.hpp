#pragma once
// A minimal HTTP/1.1 client for the OAuth2 endpoints: token requests (form POST) and,
// later, discovery documents (GET). One request per connection (Connection: close, no
// keep-alive, no pooling: token requests are rare), no redirects (a 3xx is returned as a
// response), no compression, no proxy support.
//
// No-secrets rule: nothing here logs. Error messages name the method, the scheme and
// host:port, the stage that failed and the cause; they never contain the URL's path,
// query or userinfo, the request headers (Authorization) or either body.
//
// Thread: a call runs on the executor of the coroutine that awaits it and shares no state
// with other calls, so any number may run concurrently. `options.tls` is only read (each
// call creates its own SSL object from it), so one context may serve many calls on many
// threads.
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "common/error.hpp"
#include "net/asio.hpp"

namespace mailbroker::auth {

// Response headers larger than this are refused (unavailable).
inline constexpr std::size_t max_response_header_bytes = 32 * 1024;

struct http_request_options {
  // Verify mode (and trusted CAs) come from the context; required for https, unused for
  // http. See net::make_client_tls_context.
  std::shared_ptr<asio::ssl::context> tls;
  // Check that the certificate matches the URL host (DNS name or IP address). SNI is
  // always sent when the host is a name. Only meaningful when the context verifies peers.
  bool verify_host = true;
  // The whole exchange: resolve + connect + TLS handshake + write + read. Must be > 0.
  std::chrono::milliseconds timeout{10000};
  // Larger response bodies (by Content-Length or as they arrive) fail with unavailable.
  std::size_t max_body_bytes = 1 << 20;
  // Plain http only for loopback tests or an explicit opt-in.
  bool allow_http = false;
};

struct http_response {
  int status = 0;            // any status the server sent (1xx interim responses are skipped)
  std::string content_type;  // the Content-Type header as received; "" when absent
  std::string body;          // at most max_body_bytes, de-chunked
};

// POSTs `form_body` (already encoded, see form_urlencode) to `url` with
//   Content-Type: application/x-www-form-urlencoded, Accept: application/json,
//   User-Agent: mailbroker/0.1, Connection: close
// and, when `authorization` is not empty, "Authorization: <authorization>" (the full
// header value, e.g. "Basic ..."; never logged nor put in messages).
//
// Any complete HTTP response is a success, whatever its status (a 400 from a token
// endpoint carries an RFC 6749 error body: the caller interprets it).
//
// Errors:
//   invalid_argument     the URL does not parse (see parse_url; http:// needs
//                        options.allow_http), it has userinfo (pass credentials in
//                        `authorization` instead), https without options.tls, a
//                        non-positive timeout, `authorization` containing a control
//                        character (CR/LF would inject headers)
//   failed_precondition  the server certificate does not verify (untrusted CA, expired,
//                        host mismatch...); the message gives OpenSSL's reason
//   unavailable          resolve, connect, TLS, write or read failures, the timeout,
//                        the connection closing before the response is complete, a
//                        malformed response, a body over max_body_bytes or headers over
//                        max_response_header_bytes; the message names host:port and the
//                        cause
awaitable<result<http_response>> http_post_form(std::string url, std::string form_body,
                                                std::string authorization, http_request_options options);

// Same, for GET without a body and without Authorization (discovery documents).
awaitable<result<http_response>> http_get(std::string url, http_request_options options);

}  // namespace mailbroker::auth
