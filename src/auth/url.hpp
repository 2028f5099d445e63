#pragma once
// Absolute http(s) URLs of OAuth endpoints (token endpoint, discovery documents), split
// into what an HTTP client needs. Pure: no I/O, no DNS, no exceptions.
//
// Accepted form (RFC 3986, restricted to what an endpoint URL legitimately uses):
//   https://[userinfo@]host[:port][/path][?query]      (http:// only when allowed)
// where host is a name (letters, digits, '-', '.', '_'), a dotted IPv4 address or an
// IPv6 literal in brackets ("[::1]"; zone ids are refused).
//
// No-secrets rule: error messages name the problem only. They never echo any part of the
// URL (userinfo may hold a password, and a mistyped URL can put a password where the host
// or port is expected, e.g. "https://user:secret/").
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace mailbroker::auth {

// Longer URLs are refused (invalid_argument): no endpoint URL comes close.
inline constexpr std::size_t max_url_bytes = 8192;

struct parsed_url {
  std::string scheme;      // "https" or "http", lower case
  std::string host;        // lower case; an IPv6 literal without its brackets ("::1")
  std::uint16_t port = 0;  // the explicit port, else 443 (https) or 80 (http); never 0
  std::string target;      // path and "?query" as written (still percent-encoded); at least "/"
  std::string userinfo;    // text before '@' in the authority, as written; "" when absent.
                           // May be "user:password": never log it.
};

// Parses `url`. The scheme is matched ignoring case; "http" is accepted only when
// `allow_http` is true. A missing path becomes "/" ("https://h?q" gives target "/?q").
//
// Errors (all invalid_argument, messages start with "URL"):
//   longer than max_url_bytes; any byte that is a space, a control character, DEL or
//   non-ASCII (they must be percent-encoded); a fragment ('#'); a scheme other than
//   https (or http when allowed); no host; a host with characters outside the set above;
//   an IPv6 literal that is unterminated, invalid, or followed by something other than
//   ":port"; an empty, non-numeric or out-of-range (1..65535) port; a path or query with
//   a character RFC 3986 does not allow there or a '%' not followed by two hex digits.
result<parsed_url> parse_url(std::string_view url, bool allow_http = false);

// "host:port" for messages and logs, with IPv6 literals in brackets ("[::1]:443"). Never
// includes userinfo.
std::string url_authority(const parsed_url& url);

}  // namespace mailbroker::auth
