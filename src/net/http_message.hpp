#pragma once
// The plain data of an HTTP/1.1 exchange on a persistent connection (net/http_connection):
// where to connect, the request a caller sends, the response it gets, and the pure
// functions between them (URL → endpoint, request → bytes on the wire). No I/O here.
//
// No-secrets rule: error messages name the field and the rule broken; they never echo a
// header value, a body or a URL (a URL may carry userinfo).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace mailbroker::net {

// Requests with a head (request line + headers) larger than this are refused
// (invalid_argument): EWS and Graph requests need a few hundred bytes.
inline constexpr std::size_t max_request_head_bytes = 64 * 1024;

struct http_endpoint {
  bool tls = true;
  std::string host;  // a DNS name or an IP literal (IPv6 without brackets), lower case
  std::uint16_t port = 443;

  // "host:port" for messages ("[::1]:443" for IPv6).
  std::string authority() const;
  // "https://host:port" / "http://host:port": the prefix of every error message.
  std::string origin() const;
};

struct http_url {
  http_endpoint endpoint;
  std::string target;  // path and "?query" as written, at least "/"
};

// Splits "https://host[:port]/path[?query]" (auth/url.hpp's grammar). http:// only when
// `allow_http` (loopback tests). Errors: invalid_argument from parse_url, or when the URL
// carries userinfo ("user:pass@"; credentials belong in an authenticator).
result<http_url> parse_http_url(std::string_view url, bool allow_http = false);

struct http_header {
  std::string name, value;
};

struct http_request {
  std::string method = "POST";
  std::string target;        // origin form: "/EWS/Exchange.asmx", "/v1.0/me?$select=id"
  std::string content_type;  // "" = no Content-Type header
  std::string body;
  std::vector<http_header> headers;  // extra headers, sent in this order
};

struct http_response {
  int status = 0;
  std::vector<http_header> headers;  // as received, in order (names as the server spelled them)
  std::string body;                  // de-chunked

  // The first value of the header `name` (case-insensitive); "" if absent.
  std::string header(std::string_view name) const;
  // Every value of the header `name` (case-insensitive), in order: Set-Cookie,
  // WWW-Authenticate.
  std::vector<std::string> headers_named(std::string_view name) const;
};

// ASCII case-insensitive equality (header names, auth schemes).
bool iequals(std::string_view a, std::string_view b);

// What the connection adds to every request head.
struct request_head_fields {
  std::string user_agent;
  std::string authorization;  // "" = none
  std::string cookie;         // "" = none
};

// Checks `request` and writes its head: request line, Host, User-Agent,
// Connection: keep-alive, Authorization, Cookie, Content-Type, the caller's headers and
// Content-Length (always for POST/PUT/PATCH, else only with a body), then the blank
// line. The body is not included (it is written after the head).
// Errors (invalid_argument, naming the field): a method that is not an HTTP token; a
// target that is not origin form ("/..." without spaces or control characters); a
// header name that is not a token; a header value (or content_type / user_agent) with a
// control character (CR/LF would forge headers); a header the connection sets itself
// (Host, Content-Length, Transfer-Encoding, Connection, User-Agent, Cookie, and
// Authorization when `fields.authorization` is set, Content-Type when
// `request.content_type` is set); a head over max_request_head_bytes. An Authorization
// or Cookie value with a control character is internal (it came from our own code).
result<std::string> build_request_head(const http_request& request, const http_endpoint& endpoint,
                                       const request_head_fields& fields);

}  // namespace mailbroker::net
