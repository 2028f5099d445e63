#include "protocol/pop3/reply.hpp"

#include <algorithm>
#include <limits>
#include <optional>
#include <utility>

namespace mailbroker::pop3 {
namespace {

char to_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = to_upper(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return to_upper(x) == to_upper(y); });
}

error invalid(std::string message) { return {errc::invalid_argument, std::move(message)}; }

// Reads a decimal number at the start of `s` (at least one digit) and removes it.
template <class T>
std::optional<T> take_number(std::string_view& s) {
  std::size_t i = 0;
  T n = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    const T digit = static_cast<T>(s[i] - '0');
    if (n > (std::numeric_limits<T>::max() - digit) / 10) return std::nullopt;
    n = static_cast<T>(n * 10 + digit);
  }
  if (i == 0) return std::nullopt;
  s.remove_prefix(i);
  return n;
}

// "n SP m [SP anything]" as used by STAT and scan listings.
template <class A>
result<std::pair<A, std::uint64_t>> two_numbers(std::string_view s, const char* first, const char* second) {
  const auto a = take_number<A>(s);
  if (!a) return invalid(std::string(first) + " is not a decimal number in range");
  if (s.empty() || s.front() != ' ') return invalid(std::string("expected SP after ") + first);
  s.remove_prefix(1);
  const auto b = take_number<std::uint64_t>(s);
  if (!b) return invalid(std::string(second) + " is not a decimal number in range");
  if (!s.empty() && s.front() != ' ') return invalid(std::string("unexpected character after ") + second);
  return std::pair<A, std::uint64_t>{*a, *b};
}

}  // namespace

std::string reply::body() const {
  std::string out;
  std::size_t size = 0;
  for (const auto& l : lines) size += l.size() + 2;
  out.reserve(size);
  for (const auto& l : lines) {
    out += l;
    out += "\r\n";
  }
  return out;
}

result<maildrop_stat> parse_stat(const reply& r) {
  if (r.type != reply_type::ok) return invalid("STAT reply is not +OK");
  auto numbers = two_numbers<std::uint32_t>(r.text, "message count", "maildrop size");
  if (!numbers) return numbers.err();
  return maildrop_stat{numbers->first, numbers->second};
}

result<scan_listing> parse_scan_listing(std::string_view line) {
  auto numbers = two_numbers<std::uint32_t>(line, "message number", "message size");
  if (!numbers) return numbers.err();
  if (numbers->first == 0) return invalid("message number 0");
  return scan_listing{numbers->first, numbers->second};
}

result<unique_id_listing> parse_unique_id_listing(std::string_view line) {
  const auto message = take_number<std::uint32_t>(line);
  if (!message) return invalid("message number is not a decimal number in range");
  if (*message == 0) return invalid("message number 0");
  if (line.empty() || line.front() != ' ') return invalid("expected SP after message number");
  line.remove_prefix(1);
  if (line.empty()) return invalid("empty unique-id");
  if (line.size() > 70) return invalid("unique-id longer than 70 characters");
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c < 0x21 || c > 0x7e) return invalid("invalid character at offset " + std::to_string(i) + " of unique-id");
  }
  return unique_id_listing{*message, std::string(line)};
}

bool capabilities::has_sasl(std::string_view mechanism) const {
  return std::any_of(sasl_mechanisms.begin(), sasl_mechanisms.end(),
                     [mechanism](const std::string& m) { return iequals(m, mechanism); });
}

result<capabilities> parse_capabilities(const std::vector<std::string>& lines) {
  capabilities caps;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    const std::string where = "capability line " + std::to_string(i + 1);
    if (line.empty()) return invalid(where + " is empty");
    const std::size_t sp = line.find(' ');
    const std::string_view name = line.substr(0, sp);
    if (name.empty()) return invalid(where + " starts with SP");
    if (!std::all_of(name.begin(), name.end(), [](char c) { return c > ' ' && c < 0x7f; })) {
      return invalid(where + ": invalid character in capability name");
    }
    const std::string_view args = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
    std::string key = upper(name);
    if (key == "SASL") {
      std::size_t start = 0;
      while (start < args.size()) {
        std::size_t end = args.find(' ', start);
        if (end == std::string_view::npos) end = args.size();
        if (end > start) caps.sasl_mechanisms.push_back(upper(args.substr(start, end - start)));
        start = end + 1;
      }
    } else if (key == "STLS") {
      caps.stls = true;
    } else if (key == "TOP") {
      caps.top = true;
    } else if (key == "UIDL") {
      caps.uidl = true;
    } else if (key == "USER") {
      caps.user = true;
    } else if (key == "PIPELINING") {
      caps.pipelining = true;
    } else if (key == "RESP-CODES") {
      caps.resp_codes = true;
    } else if (key == "AUTH-RESP-CODE") {
      caps.auth_resp_code = true;
    } else if (key == "IMPLEMENTATION") {
      caps.implementation = args;
    }
    caps.names.push_back(std::move(key));
  }
  return caps;
}

}  // namespace mailbroker::pop3
