#pragma once
// Small helpers shared by the mailbox codec's .cpp files; not a public API.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "protocol/imap/response.hpp"

namespace mailbroker::imap::detail {

inline char upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (upper(a[i]) != upper(b[i])) return false;
  }
  return true;
}

inline std::string to_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = upper(c);
  return out;
}

// Decimal digits only (no sign, no space), at most `max`; nullopt otherwise.
inline std::optional<std::uint64_t> parse_number(std::string_view s, std::uint64_t max) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (n > (max - d) / 10) return std::nullopt;
    n = n * 10 + d;
  }
  return n;
}

inline std::optional<std::uint32_t> parse_u32(std::string_view s) {
  const auto n = parse_number(s, UINT32_MAX);
  if (!n) return std::nullopt;
  return static_cast<std::uint32_t>(*n);
}

inline bool is_string(const value& v) { return v.type == value::kind::quoted || v.type == value::kind::literal; }

inline error invalid(std::string message) { return {errc::invalid_argument, std::move(message)}; }

}  // namespace mailbroker::imap::detail
