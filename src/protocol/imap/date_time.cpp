#include "protocol/imap/date_time.hpp"

#include <array>
#include <cstdint>
#include <vector>

namespace mailbroker::imap {
namespace {

using namespace std::chrono;

constexpr std::array<std::string_view, 12> month_names = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// 1..max_len digits, nothing else.
std::optional<int> number(std::string_view s, std::size_t max_len) {
  if (s.empty() || s.size() > max_len) return std::nullopt;
  int n = 0;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

// "Jan" or a full name such as "January" (seen in the wild); 1-12.
std::optional<unsigned> month_number(std::string_view s) {
  if (s.size() < 3) return std::nullopt;
  for (std::size_t i = 0; i < month_names.size(); ++i) {
    if (!iequals(s.substr(0, 3), month_names[i])) continue;
    if (s.size() == 3) return static_cast<unsigned>(i + 1);
    static constexpr std::array<std::string_view, 12> full = {
        "January", "February", "March",     "April",   "May",      "June",
        "July",    "August",   "September", "October", "November", "December"};
    if (iequals(s, full[i])) return static_cast<unsigned>(i + 1);
    return std::nullopt;
  }
  return std::nullopt;
}

struct clock_time {
  int hour = 0, minute = 0, second = 0;
};

// "hh:mm" or "hh:mm:ss" (hour may have one digit).
std::optional<clock_time> parse_clock(std::string_view s) {
  clock_time t;
  const auto c1 = s.find(':');
  if (c1 == std::string_view::npos) return std::nullopt;
  const auto h = number(s.substr(0, c1), 2);
  std::string_view rest = s.substr(c1 + 1);
  const auto c2 = rest.find(':');
  const auto m = number(rest.substr(0, c2), 2);
  if (!h || !m || rest.substr(0, c2).size() != 2) return std::nullopt;
  t.hour = *h;
  t.minute = *m;
  if (c2 != std::string_view::npos) {
    const std::string_view sec = rest.substr(c2 + 1);
    const auto sv = number(sec, 2);
    if (!sv || sec.size() != 2) return std::nullopt;
    t.second = *sv;
  }
  if (t.hour > 23 || t.minute > 59 || t.second > 60) return std::nullopt;
  if (t.second == 60) t.second = 59;
  return t;
}

// "+hhmm" / "-hhmm" → offset in minutes east of UTC.
std::optional<int> numeric_zone(std::string_view s) {
  if (s.size() != 5 || (s[0] != '+' && s[0] != '-')) return std::nullopt;
  const auto hh = number(s.substr(1, 2), 2);
  const auto mm = number(s.substr(3, 2), 2);
  if (!hh || !mm || *mm > 59) return std::nullopt;
  const int minutes = *hh * 60 + *mm;
  return s[0] == '-' ? -minutes : minutes;
}

std::optional<system_clock::time_point> assemble(int y, unsigned mon, int d, clock_time t, int zone_minutes) {
  if (d < 1 || d > 31) return std::nullopt;
  const year_month_day ymd{year{y}, month{mon}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  const sys_seconds utc = sys_days{ymd} + hours{t.hour} + minutes{t.minute} + seconds{t.second} -
                         minutes{zone_minutes};
  // system_clock counts nanoseconds in 64 bits here (years 1678-2262): converting a date
  // outside that range would overflow.
  constexpr auto lo = time_point_cast<seconds>(system_clock::time_point::min()) + seconds{1};
  constexpr auto hi = time_point_cast<seconds>(system_clock::time_point::max()) - seconds{1};
  if (utc < lo || utc > hi) return std::nullopt;
  return system_clock::time_point{utc};
}

// Splits on white space and ',' after replacing comments by a space; nullopt for an
// unbalanced or too deeply nested comment.
std::optional<std::vector<std::string_view>> tokens_of(std::string_view s, std::string& storage) {
  storage.clear();
  int depth = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\\' && depth > 0) {
      ++i;  // quoted-pair inside a comment
      continue;
    }
    if (c == '(') {
      if (++depth > 4) return std::nullopt;
    } else if (c == ')') {
      if (--depth < 0) return std::nullopt;
      storage += ' ';
    } else if (depth == 0) {
      storage += (c == ',' || c == '\t' || c == '\r' || c == '\n') ? ' ' : c;
    }
  }
  if (depth != 0) return std::nullopt;
  std::vector<std::string_view> out;
  std::string_view rest = storage;
  while (!rest.empty()) {
    const auto start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    const auto end = rest.find(' ');
    out.push_back(rest.substr(0, end));
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end);
  }
  return out;
}

std::optional<int> alpha_zone(std::string_view z) {
  if (z.empty() || z.size() > 5) return std::nullopt;
  for (char c : z) {
    if (!is_alpha(c)) return std::nullopt;
  }
  static constexpr std::pair<std::string_view, int> known[] = {
      {"UT", 0},         {"GMT", 0},        {"Z", 0},         {"UTC", 0},       {"EST", -5 * 60},
      {"EDT", -4 * 60},  {"CST", -6 * 60},  {"CDT", -5 * 60}, {"MST", -7 * 60}, {"MDT", -6 * 60},
      {"PST", -8 * 60},  {"PDT", -7 * 60}};
  for (const auto& [name, offset] : known) {
    if (iequals(z, name)) return offset;
  }
  return 0;
}

}  // namespace

std::optional<system_clock::time_point> parse_internal_date(std::string_view s) {
  if (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  const auto d1 = s.find('-');
  if (d1 == std::string_view::npos) return std::nullopt;
  const auto day_n = number(s.substr(0, d1), 2);
  s.remove_prefix(d1 + 1);
  if (s.size() < 4 || s[3] != '-') return std::nullopt;
  const auto mon = month_number(s.substr(0, 3));
  s.remove_prefix(4);
  if (s.size() != 4 + 1 + 8 + 1 + 5 || s[4] != ' ' || s[13] != ' ') return std::nullopt;
  const auto y = number(s.substr(0, 4), 4);
  const auto t = parse_clock(s.substr(5, 8));
  const auto zone = numeric_zone(s.substr(14));
  if (!day_n || !mon || !y || !t || !zone) return std::nullopt;
  return assemble(*y, *mon, *day_n, *t, *zone);
}

std::optional<system_clock::time_point> parse_rfc5322_date(std::string_view s) {
  std::string storage;
  const auto toks = tokens_of(s, storage);
  if (!toks) return std::nullopt;
  std::size_t i = 0;
  const auto next = [&]() -> std::optional<std::string_view> {
    if (i >= toks->size()) return std::nullopt;
    return (*toks)[i++];
  };
  auto tok = next();
  if (tok && !tok->empty() && is_alpha(tok->front())) {
    static constexpr std::string_view days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    bool weekday = false;
    for (std::string_view d : days) weekday = weekday || (tok->size() >= 3 && iequals(tok->substr(0, 3), d));
    if (!weekday) return std::nullopt;
    tok = next();
  }
  if (!tok) return std::nullopt;
  const auto day_n = number(*tok, 2);
  const auto mon_tok = next();
  const auto year_tok = next();
  const auto time_tok = next();
  const auto zone_tok = next();
  if (!day_n || !mon_tok || !year_tok || !time_tok || !zone_tok) return std::nullopt;
  const auto mon = month_number(*mon_tok);
  auto y = number(*year_tok, 4);
  const auto t = parse_clock(*time_tok);
  if (!mon || !y || !t || year_tok->size() < 2) return std::nullopt;
  if (year_tok->size() == 2) *y += *y < 50 ? 2000 : 1900;
  else if (year_tok->size() == 3) *y += 1900;
  auto zone = numeric_zone(*zone_tok);
  if (!zone) zone = alpha_zone(*zone_tok);
  if (!zone) return std::nullopt;
  return assemble(*y, *mon, *day_n, *t, *zone);
}

std::optional<std::string> format_search_date(sys_days day) {
  const year_month_day ymd{day};
  const int y = static_cast<int>(ymd.year());
  if (!ymd.ok() || y < 0 || y > 9999) return std::nullopt;
  std::string out = std::to_string(static_cast<unsigned>(ymd.day()));
  out += '-';
  out += month_names[static_cast<unsigned>(ymd.month()) - 1];
  out += '-';
  std::string ys = std::to_string(y);
  out += std::string(4 - ys.size(), '0') + ys;
  return out;
}

}  // namespace mailbroker::imap
