#include "client/cli/printable.hpp"

#include <cstdint>

namespace mailbroker::cli {
namespace {

void append_hex_escape(std::string& out, const char* prefix, unsigned value, int digits) {
  static constexpr char hex[] = "0123456789abcdef";
  out += prefix;
  for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) out += hex[(value >> shift) & 0xf];
}

// Length of the well-formed UTF-8 sequence at the start of `s` (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), or 0; its code point in `cp_r`.
std::size_t utf8_sequence(std::string_view s, std::uint32_t& cp_r) {
  const auto b = [&s](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char lead = b(0);
  std::size_t n = 0;
  std::uint32_t min = 0;
  if (lead < 0x80) {
    cp_r = lead;
    return 1;
  } else if (lead >= 0xc2 && lead <= 0xdf) {
    n = 2, cp_r = lead & 0x1f, min = 0x80;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    n = 3, cp_r = lead & 0x0f, min = 0x800;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    n = 4, cp_r = lead & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  for (std::size_t i = 1; i < n; ++i) {
    if ((b(i) & 0xc0) != 0x80) return 0;
    cp_r = (cp_r << 6) | (b(i) & 0x3f);
  }
  if (cp_r < min || cp_r > 0x10ffff || (cp_r >= 0xd800 && cp_r <= 0xdfff)) return 0;
  return n;
}

}  // namespace

std::string printable(std::string_view text, bool multiline) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    std::uint32_t cp = 0;
    const std::size_t n = utf8_sequence(text.substr(i), cp);
    if (n == 0) {
      append_hex_escape(out, "\\x", static_cast<unsigned char>(text[i]), 2);
      ++i;
      continue;
    }
    if (cp == '\t' || (multiline && cp == '\n')) {
      out += static_cast<char>(cp);
    } else if (multiline && cp == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      // CRLF line end: the LF alone.
    } else if (cp < 0x20 || cp == 0x7f) {
      append_hex_escape(out, "\\x", cp, 2);
    } else if (cp >= 0x80 && cp <= 0x9f) {
      append_hex_escape(out, "\\u", cp, 4);
    } else {
      out.append(text.substr(i, n));
    }
    i += n;
  }
  return out;
}

}  // namespace mailbroker::cli
