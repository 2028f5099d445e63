#include "mime/charset.hpp"

#include <algorithm>
#include <cerrno>
#include <optional>

#include "mime/gmime_support.hpp"

namespace mailbroker::mime {
namespace {

constexpr std::string_view replacement = "\xEF\xBF\xBD";  // U+FFFD

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = g_ascii_tolower(c);
  return out;
}

// nullopt when iconv does not know `from`.
std::optional<std::string> convert(std::string_view bytes, const std::string& from) {
  iconv_t cd = g_mime_iconv_open("UTF-8", from.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return std::nullopt;
  std::string out;
  char buffer[4096];
  char* in = const_cast<char*>(bytes.data());  // iconv's signature; it does not write
  std::size_t in_left = bytes.size();
  bool flushing = false;
  while (true) {
    char* o = buffer;
    std::size_t o_left = sizeof buffer;
    const std::size_t r = flushing ? iconv(cd, nullptr, nullptr, &o, &o_left) : iconv(cd, &in, &in_left, &o, &o_left);
    const int err = errno;
    out.append(buffer, static_cast<std::size_t>(o - buffer));
    if (r != static_cast<std::size_t>(-1)) {
      if (flushing) break;
      flushing = true;  // end of input: let stateful charsets (ISO-2022-JP) return to their initial state
      continue;
    }
    if (err == E2BIG) continue;
    out += replacement;
    if (err == EILSEQ && in_left > 0) {
      ++in;  // skip one byte of the invalid sequence and resynchronise
      --in_left;
      continue;
    }
    break;  // EINVAL: a truncated sequence at the end
  }
  g_mime_iconv_close(cd);
  return out;
}

// g_utf8_validate stops at NUL, so each NUL-separated piece is checked on its own.
bool is_utf8(std::string_view bytes) {
  for (std::size_t pos = 0; pos <= bytes.size();) {
    const std::size_t nul = std::min(bytes.find('\0', pos), bytes.size());
    if (!g_utf8_validate(bytes.data() + pos, static_cast<gssize>(nul - pos), nullptr)) return false;
    pos = nul + 1;
  }
  return true;
}

std::string undeclared(std::string_view bytes) {
  if (is_utf8(bytes)) return std::string(bytes);
  return *convert(bytes, "windows-1252");
}

}  // namespace

std::string to_utf8(std::string_view bytes, std::string_view charset) {
  detail::init_gmime();
  const std::string cs = lower(charset);
  if (cs.empty() || cs == "us-ascii" || cs == "ascii" || cs == "ansi_x3.4-1968") return undeclared(bytes);
  if (cs == "iso-8859-1" || cs == "iso8859-1" || cs == "iso_8859-1" || cs == "latin1" || cs == "l1") {
    return *convert(bytes, "windows-1252");
  }
  if (auto converted = convert(bytes, cs)) return *std::move(converted);
  return undeclared(bytes);
}

}  // namespace mailbroker::mime
