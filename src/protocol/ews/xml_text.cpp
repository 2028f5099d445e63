#include "protocol/ews/xml_text.hpp"

#include <cstdint>

namespace mailbroker::ews {
namespace {

constexpr std::string_view replacement = "\xEF\xBF\xBD";  // U+FFFD

bool is_continuation(unsigned char b) { return (b & 0xC0) == 0x80; }

bool xml_allows(std::uint32_t cp) {
  if (cp < 0x20) return cp == 0x09 || cp == 0x0A || cp == 0x0D;
  if (cp >= 0xD800 && cp <= 0xDFFF) return false;
  if (cp >= 0xFDD0 && cp <= 0xFDEF) return false;
  if ((cp & 0xFFFE) == 0xFFFE) return false;
  return cp <= 0x10FFFF;
}

// The length of the UTF-8 sequence starting at in[i] and its code point; length 0 with
// `bad` set to the length of the maximal invalid subpart (at least 1) when it is invalid.
// Surrogates (ED A0..BF xx) decode like any 3-byte sequence, so each is one unit.
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
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1, cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2, cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;  // no overlong forms
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3, cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;  // no overlong forms
    if (b0 == 0xF4) hi = 0x8F;  // nothing above 0x10FFFF
  } else {
    return {0, 0, 1};  // 80..C1, F5..FF never start a sequence
  }
  std::size_t k = 1;
  for (; k <= need; ++k) {
    if (i + k >= in.size()) return {0, 0, k};
    const auto b = static_cast<unsigned char>(in[i + k]);
    if (k == 1 ? (b < lo || b > hi) : !is_continuation(b)) return {0, 0, k};
    cp = (cp << 6) | (b & 0x3F);
  }
  return {need + 1, cp, 0};
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
      piece = xml_allows(d.cp) ? in.substr(i, d.length) : replacement;
      i += d.length;
    }
    if (out.size() + piece.size() > max_bytes) break;
    out += piece;
  }
  return out;
}

std::string xml_escape(std::string_view text) {
  const std::string clean = clean_text(text, text.size() * 3 + 3);  // never cut
  std::string out;
  out.reserve(clean.size() + clean.size() / 8);
  for (char c : clean) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      case '\t': out += "&#9;"; break;
      case '\n': out += "&#10;"; break;
      case '\r': out += "&#13;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string prepare_for_parse(std::string_view body) {
  std::string out;
  out.reserve(body.size());
  std::size_t i = 0;
  // Copies body[i, end) unchanged and moves past it.
  const auto copy_until = [&](std::size_t end) {
    out.append(body.substr(i, end - i));
    i = end;
  };
  while (i < body.size()) {
    const char c = body[i];
    if (c == '\0') {
      out += replacement;
      ++i;
      continue;
    }
    if (c == '<') {
      // CDATA and comments are not scanned for references: pugixml does not decode there.
      std::string_view close;
      if (body.substr(i, 9) == "<![CDATA[") close = "]]>";
      else if (body.substr(i, 4) == "<!--") close = "-->";
      if (!close.empty()) {
        const std::size_t end = body.find(close, i);
        const std::size_t stop = end == std::string_view::npos ? body.size() : end + close.size();
        // NUL bytes in there still become U+FFFD: a NUL would end pugixml's strings.
        for (; i < stop; ++i) {
          if (body[i] == '\0') out += replacement;
          else out += body[i];
        }
        continue;
      }
    }
    if (c == '&' && i + 1 < body.size() && body[i + 1] == '#') {
      const bool hex = i + 2 < body.size() && body[i + 2] == 'x';
      std::size_t j = i + (hex ? 3 : 2);
      std::uint64_t value = 0;
      bool digits = false;
      for (; j < body.size(); ++j) {
        const char d = body[j];
        int v;
        if (d >= '0' && d <= '9') v = d - '0';
        else if (hex && d >= 'a' && d <= 'f') v = d - 'a' + 10;
        else if (hex && d >= 'A' && d <= 'F') v = d - 'A' + 10;
        else break;
        digits = true;
        value = value * (hex ? 16 : 10) + static_cast<std::uint64_t>(v);
        if (value > 0x10FFFF) value = 0x110000;  // saturate: no overflow whatever the length
      }
      if (digits && j < body.size() && body[j] == ';' && (value == 0 || value > 0x10FFFF)) {
        out += replacement;
        i = j + 1;
        continue;
      }
      copy_until(j);
      continue;
    }
    out += c;
    ++i;
  }
  return out;
}

}  // namespace mailbroker::ews
