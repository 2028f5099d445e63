#include "auth/ntlm_text.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>

namespace mailbroker::auth::ntlm_text {
namespace {

constexpr char32_t replacement = 0xfffd;

// Decodes one code point at `i`, advancing `i`; nullopt (and one byte consumed) for an
// ill-formed sequence.
std::optional<char32_t> next_code_point(std::string_view s, std::size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i++]);
  if (b0 < 0x80) return b0;
  int extra = 0;
  char32_t cp = 0, min = 0;
  if ((b0 & 0xe0) == 0xc0) extra = 1, cp = b0 & 0x1f, min = 0x80;
  else if ((b0 & 0xf0) == 0xe0) extra = 2, cp = b0 & 0x0f, min = 0x800;
  else if ((b0 & 0xf8) == 0xf0) extra = 3, cp = b0 & 0x07, min = 0x10000;
  else return std::nullopt;
  if (s.size() - i < static_cast<std::size_t>(extra)) return std::nullopt;
  for (int k = 0; k < extra; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xc0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return std::nullopt;
  i += extra;
  return cp;
}

void put_unit(std::string& out, char16_t u) {
  out.push_back(static_cast<char>(u & 0xff));
  out.push_back(static_cast<char>(u >> 8));
}

void put_utf16(std::string& out, char32_t cp) {
  if (cp < 0x10000) return put_unit(out, static_cast<char16_t>(cp));
  cp -= 0x10000;
  put_unit(out, static_cast<char16_t>(0xd800 + (cp >> 10)));
  put_unit(out, static_cast<char16_t>(0xdc00 + (cp & 0x3ff)));
}

void put_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

// Simple (one-to-one) upper-case mapping for the blocks named in the header.
char32_t upper(char32_t c) {
  if (c >= 'a' && c <= 'z') return c - 0x20;
  if (c < 0x80) return c;
  if ((c >= 0xe0 && c <= 0xfe && c != 0xf7)) return c - 0x20;  // à..þ except ÷
  if (c == 0xff) return 0x178;                                  // ÿ -> Ÿ
  if (c >= 0x100 && c <= 0x17f) {                               // Latin Extended-A
    if (c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17f) return c;  // ı ĸ ŉ ſ: no simple pair
    const bool odd_is_upper = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e);
    if (odd_is_upper) return (c % 2 == 0) ? c - 1 : c;
    return (c % 2 == 1) ? c - 1 : c;
  }
  if (c >= 0x3b1 && c <= 0x3c9 && c != 0x3c2) return c - 0x20;  // α..ω -> Α..Ω
  if (c == 0x3c2) return 0x3a3;                                  // final ς -> Σ
  if (c == 0x3ac) return 0x386;                                  // ά -> Ά
  if (c >= 0x3ad && c <= 0x3af) return c - 0x25;                 // έ ή ί -> Έ Ή Ί
  if (c == 0x3cc) return 0x38c;                                  // ό -> Ό
  if (c == 0x3cd || c == 0x3ce) return c - 0x3f;                 // ύ ώ -> Ύ Ώ
  if (c >= 0x430 && c <= 0x44f) return c - 0x20;                 // а..я -> А..Я
  if (c >= 0x450 && c <= 0x45f) return c - 0x50;                 // ѐ..џ -> Ѐ..Џ
  return c;
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    if (!next_code_point(text, i)) return false;
  }
  return true;
}

std::string utf16le(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size() * 2);
  for (std::size_t i = 0; i < utf8.size();) put_utf16(out, next_code_point(utf8, i).value_or(replacement));
  return out;
}

std::string utf8_from_utf16le(std::string_view bytes) {
  std::string out;
  const std::size_t units = bytes.size() / 2;
  const auto unit = [&](std::size_t k) {
    return static_cast<char16_t>(static_cast<unsigned char>(bytes[2 * k]) |
                                 static_cast<unsigned char>(bytes[2 * k + 1]) << 8);
  };
  for (std::size_t k = 0; k < units; ++k) {
    const char16_t u = unit(k);
    if (u >= 0xd800 && u <= 0xdbff && k + 1 < units && unit(k + 1) >= 0xdc00 && unit(k + 1) <= 0xdfff) {
      put_utf8(out, 0x10000 + ((static_cast<char32_t>(u) - 0xd800) << 10) + (unit(k + 1) - 0xdc00));
      ++k;
    } else if (u >= 0xd800 && u <= 0xdfff) {
      put_utf8(out, replacement);
    } else {
      put_utf8(out, u);
    }
  }
  return out;
}

std::string uppercase(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size());
  for (std::size_t i = 0; i < utf8.size();) put_utf8(out, upper(next_code_point(utf8, i).value_or(replacement)));
  return out;
}

}  // namespace mailbroker::auth::ntlm_text
