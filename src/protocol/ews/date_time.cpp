#include "protocol/ews/date_time.hpp"

#include <cstdio>

namespace mailbroker::ews {
namespace {

// Reads exactly `n` digits at s[pos]; -1 when they are not all digits.
int digits(std::string_view s, std::size_t pos, std::size_t n) {
  if (pos + n > s.size()) return -1;
  int v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace

std::optional<time_point> parse_xs_datetime(std::string_view s) {
  using namespace std::chrono;
  // YYYY-MM-DDThh:mm:ss is 19 characters.
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') {
    return std::nullopt;
  }
  const int y = digits(s, 0, 4), mo = digits(s, 5, 2), d = digits(s, 8, 2);
  const int h = digits(s, 11, 2), mi = digits(s, 14, 2), sec = digits(s, 17, 2);
  if (y < 1678 || y > 2261 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 ||
      sec > 59) {
    return std::nullopt;
  }
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  std::size_t pos = 19;
  nanoseconds fraction{0};
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::int64_t scale = 100000000, ns = 0;
    const std::size_t start = pos;
    for (; pos < s.size() && s[pos] >= '0' && s[pos] <= '9'; ++pos) {
      ns += (s[pos] - '0') * scale;
      scale /= 10;
    }
    if (pos == start) return std::nullopt;
    fraction = nanoseconds{ns};
  }
  minutes offset{0};
  if (pos < s.size()) {
    if (s[pos] == 'Z' && pos + 1 == s.size()) {
      ++pos;
    } else if ((s[pos] == '+' || s[pos] == '-') && pos + 6 == s.size() && s[pos + 3] == ':') {
      const int oh = digits(s, pos + 1, 2), om = digits(s, pos + 4, 2);
      if (oh < 0 || om < 0 || om > 59 || oh * 60 + om > 14 * 60) return std::nullopt;
      offset = minutes{oh * 60 + om};
      if (s[pos] == '-') offset = -offset;
      pos += 6;
    } else {
      return std::nullopt;
    }
  }
  const sys_seconds local = sys_days{ymd} + hours{h} + minutes{mi} + seconds{sec};
  return time_point_cast<system_clock::duration>(local - offset + fraction);
}

std::string format_xs_datetime(time_point t) {
  using namespace std::chrono;
  const sys_seconds secs = floor<seconds>(t);
  const sys_days day_part = floor<days>(secs);
  const year_month_day ymd{day_part};
  const hh_mm_ss hms{secs - day_part};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

}  // namespace mailbroker::ews
