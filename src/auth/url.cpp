#include "auth/url.hpp"

#include <arpa/inet.h>

namespace mailbroker::auth {
namespace {

error bad(std::string message) { return error{errc::invalid_argument, "URL " + std::move(message)}; }

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals_prefix(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (to_lower(text[i]) != prefix[i]) return false;
  }
  return true;
}

// RFC 3986 pchar without pct-encoded (checked separately), plus '/' and '?' which are
// allowed anywhere in path-abempty and query.
bool is_target_char(char c) {
  if (is_alpha(c) || is_digit(c)) return true;
  switch (c) {
    case '-': case '.': case '_': case '~':                                  // unreserved
    case '!': case '$': case '&': case '\'': case '(': case ')':
    case '*': case '+': case ',': case ';': case '=':                        // sub-delims
    case ':': case '@': case '/': case '?':
      return true;
    default:
      return false;
  }
}

// A registered name restricted to DNS-style characters: percent-encoded or exotic
// sub-delim host names cannot be endpoint hosts, and refusing them early gives a clearer
// error than a failed DNS lookup.
bool is_host_char(char c) { return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_'; }

}  // namespace

result<parsed_url> parse_url(std::string_view url, bool allow_http) {
  if (url.size() > max_url_bytes) return bad("is longer than " + std::to_string(max_url_bytes) + " bytes");
  // Checked over the whole string first so that no later error can be caused by (and
  // thus hint at) a stray byte in the userinfo.
  for (char c : url) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7f) {
      return bad("contains a space, a control character or a non-ASCII byte (percent-encode it)");
    }
  }
  if (url.find('#') != std::string_view::npos) return bad("must not contain a fragment ('#')");

  parsed_url out;
  std::string_view rest;
  if (iequals_prefix(url, "https://")) {
    out.scheme = "https";
    out.port = 443;
    rest = url.substr(8);
  } else if (iequals_prefix(url, "http://")) {
    if (!allow_http) return bad("must use https (http:// is not allowed here)");
    out.scheme = "http";
    out.port = 80;
    rest = url.substr(7);
  } else {
    return bad(allow_http ? "must start with https:// or http://" : "must use https (start with https://)");
  }

  const std::size_t authority_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view target = authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);

  // The last '@' ends the userinfo: an unencoded '@' in a password is common enough.
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    out.userinfo = std::string(authority.substr(0, at));
    authority = authority.substr(at + 1);
  }

  std::string_view port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return bad("has an unterminated IPv6 literal ('[' without ']')");
    const std::string literal(authority.substr(1, close - 1));
    if (literal.empty()) return bad("has no host");
    in6_addr address{};
    // inet_pton refuses zone ids ("fe80::1%eth0"), which an endpoint URL has no use for.
    if (inet_pton(AF_INET6, literal.c_str(), &address) != 1) return bad("host is not a valid IPv6 address");
    for (char c : literal) out.host.push_back(to_lower(c));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("has unexpected characters after the IPv6 literal");
      has_port = true;
      port_text = after.substr(1);
    }
  } else {
    const auto colon = authority.find(':');
    const std::string_view host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      has_port = true;
      port_text = authority.substr(colon + 1);
    }
    if (host.empty()) return bad("has no host");
    for (char c : host) {
      if (!is_host_char(c)) {
        return bad("host may only contain letters, digits, '-', '.' and '_' (IPv6 literals go in brackets)");
      }
      out.host.push_back(to_lower(c));
    }
  }

  if (has_port) {
    if (port_text.empty()) return bad("has an empty port after ':'");
    unsigned long value = 0;
    for (char c : port_text) {
      if (!is_digit(c)) return bad("port must be a number from 1 to 65535");
      value = value * 10 + static_cast<unsigned long>(c - '0');
      if (value > 65535) return bad("port must be a number from 1 to 65535");
    }
    if (value == 0) return bad("port must be a number from 1 to 65535");
    out.port = static_cast<std::uint16_t>(value);
  }

  for (std::size_t i = 0; i < target.size(); ++i) {
    const char c = target[i];
    if (c == '%') {
      if (i + 2 >= target.size() || !is_hex(target[i + 1]) || !is_hex(target[i + 2])) {
        return bad("has a '%' not followed by two hex digits");
      }
      i += 2;
      continue;
    }
    if (!is_target_char(c)) return bad("path or query contains a character that must be percent-encoded");
  }
  if (target.empty() || target.front() == '?') out.target = "/";
  out.target += target;
  return out;
}

std::string url_authority(const parsed_url& url) {
  const bool ipv6 = url.host.find(':') != std::string::npos;
  return (ipv6 ? "[" + url.host + "]" : url.host) + ":" + std::to_string(url.port);
}

}  // namespace mailbroker::auth
