#pragma once
// The cookies one server (one host) set on one connection's requests, sent back on the
// next ones (RFC 6265, the subset a client of a single endpoint needs). Exchange routes a
// mailbox's requests to one back-end by affinity cookies (X-BackEndCookie,
// exchangecookie); losing them costs a re-route on every request.
//
// Kept: name, value, Path (else the default path of the request), Secure, expiry
// (Max-Age wins over Expires; an expiry in the past deletes the cookie). Domain: a
// cookie whose Domain does not domain-match the host is ignored; a matching one is kept
// for this host only (the jar never sends anywhere else). HttpOnly and SameSite mean
// nothing here and are ignored.
//
// Bounds (RFC 6265 §6.1 minimums): at most max_cookies (the oldest is evicted) of at
// most max_cookie_bytes each (name + value + attributes; larger ones are ignored).
//
// Pure, no I/O, not thread-safe (one connection's strand). Values are secrets (session
// cookies): nothing here logs or reports them.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailbroker::net {

class http_cookie_jar {
 public:
  using clock = std::chrono::system_clock;
  static constexpr std::size_t max_cookies = 50;
  static constexpr std::size_t max_cookie_bytes = 4096;

  explicit http_cookie_jar(std::string host) : host_(std::move(host)) {}

  // One Set-Cookie header value received for a request to `request_path` (its target,
  // query ignored), over TLS or not. Malformed values are ignored, as RFC 6265 says.
  void store(std::string_view set_cookie, std::string_view request_path, clock::time_point now);

  // The Cookie header value for a request to `request_path` ("" when none applies):
  // "a=1; b=2", longer paths first. Secure cookies only when `secure`.
  std::string cookie_header(std::string_view request_path, bool secure, clock::time_point now);

  std::size_t size() const { return cookies_.size(); }
  void clear() { cookies_.clear(); }

 private:
  struct cookie {
    std::string name, value, path;
    bool secure = false;
    std::optional<clock::time_point> expires;  // none: until the jar goes away
    std::uint64_t order = 0;                    // creation order, for eviction and ties
  };
  void drop_expired(clock::time_point now);

  std::string host_;
  std::vector<cookie> cookies_;
  std::uint64_t next_order_ = 0;
};

// RFC 6265 §5.1.1 cookie-date ("Wed, 09 Jun 2021 10:18:14 GMT", "Sat, 11-Feb-2023
// 06:00:00 GMT"...), lenient as browsers are; nullopt when it is not a valid date.
std::optional<std::chrono::system_clock::time_point> parse_cookie_date(std::string_view text);

}  // namespace mailbroker::net
