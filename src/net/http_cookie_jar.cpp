#include "net/http_cookie_jar.hpp"

#include <algorithm>
#include <ctime>

#include "net/http_message.hpp"

namespace mailbroker::net {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// The path part of a request target, without the query.
std::string_view path_of(std::string_view target) {
  target = target.substr(0, target.find('?'));
  return target.empty() ? std::string_view("/") : target;
}

// RFC 6265 §5.1.4 default-path.
std::string default_path(std::string_view request_path) {
  if (request_path.empty() || request_path.front() != '/') return "/";
  const auto slash = request_path.rfind('/');
  return slash == 0 ? "/" : std::string(request_path.substr(0, slash));
}

// RFC 6265 §5.1.4 path-match.
bool path_matches(std::string_view request_path, std::string_view cookie_path) {
  if (request_path == cookie_path) return true;
  if (request_path.substr(0, cookie_path.size()) != cookie_path) return false;
  return cookie_path.back() == '/' || request_path[cookie_path.size()] == '/';
}

bool is_ip_literal(std::string_view host) {
  return host.find(':') != std::string_view::npos ||
         std::all_of(host.begin(), host.end(), [](char c) { return is_digit(c) || c == '.'; });
}

// RFC 6265 §5.1.3 domain-match (after §5.2.3 dropped a leading dot).
bool domain_matches(std::string_view host, std::string domain) {
  for (char& c : domain) c = lower(c);
  if (host == domain) return true;
  if (is_ip_literal(host) || domain.empty() || host.size() <= domain.size()) return false;
  return host.substr(host.size() - domain.size()) == domain && host[host.size() - domain.size() - 1] == '.';
}

// Parses up to `max` digits at the start of `token`; -1 when fewer than `min`.
int leading_number(std::string_view token, std::size_t min, std::size_t max, std::size_t& used) {
  used = 0;
  int value = 0;
  while (used < token.size() && used < max && is_digit(token[used])) value = value * 10 + (token[used++] - '0');
  if (used < min || (used < token.size() && is_digit(token[used]))) return -1;
  return value;
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parse_cookie_date(std::string_view text) {
  static constexpr std::string_view months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                                "jul", "aug", "sep", "oct", "nov", "dec"};
  auto delimiter = [](char c) {
    const auto b = static_cast<unsigned char>(c);
    return b == 0x09 || (b >= 0x20 && b <= 0x2f) || (b >= 0x3b && b <= 0x40) || (b >= 0x5b && b <= 0x60) ||
           (b >= 0x7b && b <= 0x7e);
  };
  int hour = -1, minute = -1, second = -1, day = -1, month = -1, year = -1;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && delimiter(text[i])) ++i;
    std::size_t end = i;
    while (end < text.size() && !delimiter(text[end])) ++end;
    const std::string_view token = text.substr(i, end - i);
    i = end;
    if (token.empty()) continue;
    std::size_t used = 0;
    if (hour < 0) {  // hms-time: 1*2DIGIT ":" 1*2DIGIT ":" 1*2DIGIT
      const int h = leading_number(token, 1, 2, used);
      if (h >= 0 && used < token.size() && token[used] == ':') {
        std::size_t u2 = 0, u3 = 0;
        const std::string_view rest = token.substr(used + 1);
        const int m = leading_number(rest, 1, 2, u2);
        if (m >= 0 && u2 < rest.size() && rest[u2] == ':') {
          const int s = leading_number(rest.substr(u2 + 1), 1, 2, u3);
          if (s >= 0) {
            hour = h, minute = m, second = s;
            continue;
          }
        }
      }
    }
    if (day < 0) {
      const int d = leading_number(token, 1, 2, used);
      if (d >= 0 && used == token.size()) {
        day = d;
        continue;
      }
    }
    if (month < 0 && token.size() >= 3) {
      const std::string prefix{lower(token[0]), lower(token[1]), lower(token[2])};
      bool found = false;
      for (int m = 0; m < 12; ++m) {
        if (months[m] == prefix) {
          month = m + 1;
          found = true;
        }
      }
      if (found) continue;
    }
    if (year < 0) {
      const int y = leading_number(token, 2, 4, used);
      if (y >= 0) {
        year = y;
        continue;
      }
    }
  }
  if (year >= 70 && year <= 99) year += 1900;
  if (year >= 0 && year <= 69) year += 2000;
  if (hour < 0 || day < 0 || month < 0 || year < 0) return std::nullopt;
  if (day < 1 || day > 31 || year < 1601 || hour > 23 || minute > 59 || second > 59) return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const std::time_t t = timegm(&tm);
  return std::chrono::system_clock::from_time_t(t);
}

void http_cookie_jar::store(std::string_view set_cookie, std::string_view request_path, clock::time_point now) {
  if (set_cookie.size() > max_cookie_bytes) return;
  const auto semicolon = set_cookie.find(';');
  const std::string_view pair = set_cookie.substr(0, semicolon);
  const auto equals = pair.find('=');
  if (equals == std::string_view::npos) return;
  cookie c;
  c.name = std::string(trim(pair.substr(0, equals)));
  c.value = std::string(trim(pair.substr(equals + 1)));
  if (c.name.empty()) return;
  // A value with a control character or ';' cannot be sent back in a Cookie header.
  for (char ch : c.name + c.value) {
    const auto b = static_cast<unsigned char>(ch);
    if (b < 0x20 || b == 0x7f || ch == ';') return;
  }

  std::optional<clock::time_point> expires_attr;
  std::optional<clock::time_point> max_age_attr;
  std::string_view attributes = semicolon == std::string_view::npos ? std::string_view{} : set_cookie.substr(semicolon + 1);
  while (!attributes.empty()) {
    const auto next = attributes.find(';');
    const std::string_view attribute = attributes.substr(0, next);
    attributes = next == std::string_view::npos ? std::string_view{} : attributes.substr(next + 1);
    const auto eq = attribute.find('=');
    const std::string_view key = trim(attribute.substr(0, eq));
    const std::string_view value = eq == std::string_view::npos ? std::string_view{} : trim(attribute.substr(eq + 1));
    if (iequals(key, "expires")) {
      if (auto t = parse_cookie_date(value)) expires_attr = *t;
    } else if (iequals(key, "max-age")) {
      const bool negative = !value.empty() && value.front() == '-';
      const std::string_view digits = negative ? value.substr(1) : value;
      if (digits.empty() || !std::all_of(digits.begin(), digits.end(), is_digit)) continue;
      // Saturate: a Max-Age of a century must not overflow the clock.
      long long seconds = 0;
      for (char d : digits) seconds = std::min<long long>(seconds * 10 + (d - '0'), 400LL * 365 * 86400);
      max_age_attr = negative || seconds == 0 ? clock::time_point::min() : now + std::chrono::seconds(seconds);
    } else if (iequals(key, "domain")) {
      std::string_view domain = value;
      if (!domain.empty() && domain.front() == '.') domain.remove_prefix(1);
      if (!domain.empty() && !domain_matches(host_, std::string(domain))) return;
    } else if (iequals(key, "path")) {
      if (!value.empty() && value.front() == '/') c.path = std::string(value);
    } else if (iequals(key, "secure")) {
      c.secure = true;
    }
  }
  if (c.path.empty()) c.path = default_path(path_of(request_path));
  c.expires = max_age_attr ? max_age_attr : expires_attr;

  // A new cookie replaces one with the same name and path and keeps its creation order
  // (RFC 6265 §5.3 step 11).
  std::optional<std::uint64_t> replaced_order;
  std::erase_if(cookies_, [&](const cookie& old) {
    if (old.name != c.name || old.path != c.path) return false;
    replaced_order = old.order;
    return true;
  });
  if (c.expires && *c.expires <= now) return;  // the server deleted it
  drop_expired(now);
  if (cookies_.size() >= max_cookies) {
    cookies_.erase(std::min_element(cookies_.begin(), cookies_.end(),
                                    [](const cookie& a, const cookie& b) { return a.order < b.order; }));
  }
  c.order = replaced_order ? *replaced_order : next_order_++;
  cookies_.push_back(std::move(c));
}

std::string http_cookie_jar::cookie_header(std::string_view request_path, bool secure, clock::time_point now) {
  drop_expired(now);
  const std::string_view path = path_of(request_path);
  std::vector<const cookie*> chosen;
  for (const auto& c : cookies_) {
    if ((!c.secure || secure) && path_matches(path, c.path)) chosen.push_back(&c);
  }
  // RFC 6265 §5.4 step 2: longer paths first, then older first.
  std::stable_sort(chosen.begin(), chosen.end(), [](const cookie* a, const cookie* b) {
    if (a->path.size() != b->path.size()) return a->path.size() > b->path.size();
    return a->order < b->order;
  });
  std::string out;
  for (const cookie* c : chosen) {
    if (!out.empty()) out += "; ";
    out += c->name + "=" + c->value;
  }
  return out;
}

void http_cookie_jar::drop_expired(clock::time_point now) {
  std::erase_if(cookies_, [&](const cookie& c) { return c.expires && *c.expires <= now; });
}

}  // namespace mailbroker::net
