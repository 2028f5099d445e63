#include "net/http_message.hpp"

#include <array>

#include "auth/url.hpp"

namespace mailbroker::net {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// RFC 9110 tchar.
bool is_token(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (alnum) continue;
    switch (c) {
      case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
      case '-': case '.': case '^': case '_': case '`': case '|': case '~':
        continue;
      default:
        return false;
    }
  }
  return true;
}

// Field values may hold any visible byte, space and tab (obs-text included), never a
// control character: CR or LF would end the header and start another.
bool is_field_value(std::string_view text) {
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && c != '\t') || byte == 0x7f) return false;
  }
  return true;
}

bool is_origin_form(std::string_view target) {
  if (target.empty() || target.front() != '/') return false;
  for (char c : target) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7f) return false;
  }
  return true;
}

error bad(std::string message) { return error{errc::invalid_argument, "http_request." + std::move(message)}; }

std::string host_header(const http_endpoint& endpoint) {
  std::string out = endpoint.host.find(':') != std::string::npos ? "[" + endpoint.host + "]" : endpoint.host;
  const std::uint16_t default_port = endpoint.tls ? 443 : 80;
  if (endpoint.port != default_port) out += ":" + std::to_string(endpoint.port);
  return out;
}

}  // namespace

std::string http_endpoint::authority() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string http_endpoint::origin() const { return (tls ? "https://" : "http://") + authority(); }

result<http_url> parse_http_url(std::string_view url, bool allow_http) {
  auto parsed = auth::parse_url(url, allow_http);
  if (!parsed) return parsed.err();
  if (!parsed->userinfo.empty()) {
    return error{errc::invalid_argument,
                 "URL must not contain credentials before '@'; give them to the connection's authenticator"};
  }
  http_url out;
  out.endpoint.tls = parsed->scheme == "https";
  out.endpoint.host = std::move(parsed->host);
  out.endpoint.port = parsed->port;
  out.target = std::move(parsed->target);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string http_response::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (iequals(h.name, name)) return h.value;
  }
  return {};
}

std::vector<std::string> http_response::headers_named(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& h : headers) {
    if (iequals(h.name, name)) out.push_back(h.value);
  }
  return out;
}

result<std::string> build_request_head(const http_request& request, const http_endpoint& endpoint,
                                       const request_head_fields& fields) {
  if (!is_token(request.method)) return bad("method must be an HTTP token such as POST or GET");
  if (!is_origin_form(request.target)) {
    return bad("target must start with '/' and contain no spaces, control characters or non-ASCII bytes");
  }
  if (!is_field_value(request.content_type)) return bad("content_type contains a control character");
  if (!is_field_value(fields.user_agent)) return bad("user_agent contains a control character");
  if (!is_field_value(fields.authorization) || !is_field_value(fields.cookie)) {
    return error{errc::internal, "the Authorization or Cookie value built for the request contains a control character"};
  }
  static constexpr std::array<std::string_view, 6> always_ours{"host", "content-length", "transfer-encoding",
                                                               "connection", "user-agent", "cookie"};
  for (const auto& h : request.headers) {
    if (!is_token(h.name)) return bad("headers: a header name is empty or not an HTTP token");
    for (auto ours : always_ours) {
      if (iequals(h.name, ours)) return bad("headers: '" + h.name + "' is set by the connection, not by the request");
    }
    if (!fields.authorization.empty() && iequals(h.name, "authorization")) {
      return bad("headers: 'Authorization' is set by the connection's authenticator");
    }
    if (!request.content_type.empty() && iequals(h.name, "content-type")) {
      return bad("headers: 'Content-Type' is given twice (content_type and headers)");
    }
    if (!is_field_value(h.value)) return bad("headers: the value of '" + h.name + "' contains a control character");
  }

  std::string head;
  head.reserve(256 + request.target.size());
  head += request.method + " " + request.target + " HTTP/1.1\r\n";
  head += "Host: " + host_header(endpoint) + "\r\n";
  if (!fields.user_agent.empty()) head += "User-Agent: " + fields.user_agent + "\r\n";
  head += "Connection: keep-alive\r\n";
  if (!fields.authorization.empty()) head += "Authorization: " + fields.authorization + "\r\n";
  if (!fields.cookie.empty()) head += "Cookie: " + fields.cookie + "\r\n";
  if (!request.content_type.empty()) head += "Content-Type: " + request.content_type + "\r\n";
  for (const auto& h : request.headers) head += h.name + ": " + h.value + "\r\n";
  const bool body_expected = request.method == "POST" || request.method == "PUT" || request.method == "PATCH";
  if (body_expected || !request.body.empty()) {
    head += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
  }
  head += "\r\n";
  if (head.size() > max_request_head_bytes) {
    return bad("headers: the request head is larger than " + std::to_string(max_request_head_bytes) + " bytes");
  }
  return head;
}

}  // namespace mailbroker::net
