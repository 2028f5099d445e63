#include "protocol/graph/json_text.hpp"

#include <cstdint>
#include <cstdio>

namespace mailbroker::graph {
namespace {

constexpr std::string_view replacement = "\xEF\xBF\xBD";  // U+FFFD

bool allowed(std::uint32_t cp) {
  if (cp < 0x20) return cp == 0x09 || cp == 0x0A || cp == 0x0D;
  if (cp >= 0xD800 && cp <= 0xDFFF) return false;
  if (cp >= 0xFDD0 && cp <= 0xFDEF) return false;
  if ((cp & 0xFFFE) == 0xFFFE) return false;
  return cp <= 0x10FFFF;
}

// Length and code point of the UTF-8 sequence at in[i]; length 0 and `bad` = the length
// of the maximal invalid subpart (Unicode 15 section 3.9) when it is invalid.
struct decoded {
  std::size_t length = 0;
  std::uint32_t cp = 0;
  std::size_t bad = 0;
};

decoded decode(std::string_view in, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(in[i]);
  if (b0 < 0x80) return {1, b0, 0};
  std::size_t need = 0;
  std::uint32_t cp = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1, cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2, cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3, cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return {0, 0, 1};
  }
  for (std::size_t k = 1; k <= need; ++k) {
    if (i + k >= in.size()) return {0, 0, k};
    const auto b = static_cast<unsigned char>(in[i + k]);
    const bool ok = k == 1 ? (b >= lo && b <= hi) : (b & 0xC0) == 0x80;
    if (!ok) return {0, 0, k};
    cp = (cp << 6) | (b & 0x3F);
  }
  return {need + 1, cp, 0};
}

bool digits(std::string_view s, std::size_t at, std::size_t n, int& out) {
  if (at + n > s.size()) return false;
  out = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

std::string clean_text(std::string_view in, std::size_t max_bytes) {
  std::string out;
  out.reserve(in.size() < max_bytes ? in.size() : max_bytes);
  for (std::size_t i = 0; i < in.size();) {
    const decoded d = decode(in, i);
    std::string_view piece;
    if (d.length == 0) {
      piece = replacement;
      i += d.bad;
    } else {
      piece = allowed(d.cp) ? in.substr(i, d.length) : replacement;
      i += d.length;
    }
    if (out.size() + piece.size() > max_bytes) break;
    out += piece;
  }
  return out;
}

std::size_t json_depth(std::string_view body, std::size_t limit) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      if (c == '\\') ++i;  // the escaped character cannot end the string
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
      if (deepest > limit) return limit + 1;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

result<json> parse_body(std::string_view body, int http_status, std::string_view what) {
  const std::string status = " (HTTP " + std::to_string(http_status) + ")";
  if (body.size() > max_body_bytes) {
    return error{errc::resource_exhausted, std::string(what) + status + " is larger than " +
                                               std::to_string(max_body_bytes / (1024 * 1024)) + " MiB"};
  }
  const auto unavailable = [&](std::string_view why) {
    return error{errc::unavailable, std::string(what) + status + " " + std::string(why) +
                                        ": the server or a proxy on the way failed; try again later"};
  };
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return unavailable("is empty");
  if (json_depth(body) > max_json_depth) {
    return unavailable("nests JSON deeper than " + std::to_string(max_json_depth) + " levels");
  }
  json value;
  try {
    value = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  } catch (const std::exception&) {
    value = json(json::value_t::discarded);
  }
  if (value.is_discarded()) {
    const auto first = body.find_first_not_of(" \t\r\n");
    if (body[first] == '<') return unavailable("is HTML or XML, not JSON (an error page?)");
    return unavailable("is not valid JSON (truncated?)");
  }
  if (!value.is_object()) return unavailable("is not a JSON object");
  return value;
}

std::optional<std::string> string_member(const json& object, std::string_view key, std::size_t max_bytes) {
  if (!object.is_object()) return std::nullopt;
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return clean_text(it->get_ref<const std::string&>(), max_bytes);
}

std::optional<time_point> parse_iso8601(std::string_view s) {
  using namespace std::chrono;
  int y, mo, d, h, mi, se;
  if (!digits(s, 0, 4, y) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't') || !digits(s, 11, 2, h) || s[13] != ':' ||
      !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, se)) {
    return std::nullopt;
  }
  if (y < 1678 || y > 2261 || h > 23 || mi > 59 || se > 60) return std::nullopt;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  std::size_t i = 19;
  std::int64_t fraction_ns = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    const std::size_t start = i;
    std::int64_t scale = 100000000;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
      if (scale > 0) fraction_ns += (s[i] - '0') * scale;
      scale /= 10;
    }
    if (i == start || i - start > 64) return std::nullopt;
  }
  minutes offset{0};
  if (i < s.size()) {
    if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == s.size()) {
      i = s.size();
    } else if ((s[i] == '+' || s[i] == '-') && s.size() == i + 6 && s[i + 3] == ':') {
      int oh, om;
      if (!digits(s, i + 1, 2, oh) || !digits(s, i + 4, 2, om) || om > 59 || oh * 60 + om > 14 * 60) {
        return std::nullopt;
      }
      offset = minutes{oh * 60 + om};
      if (s[i] == '-') offset = -offset;
    } else {
      return std::nullopt;
    }
  }
  const auto local = sys_days{ymd} + hours{h} + minutes{mi} + seconds{se} + nanoseconds{fraction_ns};
  const auto utc = local - offset;
  return time_point(duration_cast<system_clock::duration>(utc.time_since_epoch()));
}

std::string format_iso8601(time_point t) {
  using namespace std::chrono;
  const auto secs = floor<seconds>(t);
  const auto days = floor<std::chrono::days>(secs);
  const year_month_day ymd{days};
  const hh_mm_ss hms{secs - days};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

}  // namespace mailbroker::graph
