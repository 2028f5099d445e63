#include "mime/header_text.hpp"

#include <gmime/gmime.h>

#include <mutex>
#include <vector>

#include "common/base64.hpp"
#include "mime/gmime_support.hpp"

namespace mailbroker::mime {
namespace detail {

void init_gmime() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

}  // namespace detail
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (g_ascii_tolower(a[i]) != g_ascii_tolower(b[i])) return false;
  }
  return true;
}

struct b_word {
  std::size_t begin, end;  // of "=?charset?B?text?=" in the input
  std::string_view charset, text;
};

}  // namespace

// GMime 3.2.13 (Debian 12) joins the base64 text of adjacent B words of one charset
// before decoding it, so "=?UTF-8?B?SGVsbG8=?= =?UTF-8?B?IHdvcmxk?=" decodes to "Hello"
// (jstedfast/gmime#133, fixed upstream later). Such runs are merged here into one word
// whose base64 is that of the joined bytes, which is what GMime meant to decode; charset
// conversion stays with GMime.
std::string detail::merge_padded_b_words(std::string_view raw) {
  std::vector<b_word> words;
  for (std::size_t pos = raw.find("=?"); pos != std::string_view::npos; pos = raw.find("=?", pos + 2)) {
    const auto q1 = raw.find('?', pos + 2);
    if (q1 == std::string_view::npos || q1 + 3 >= raw.size() || raw[q1 + 2] != '?') break;
    if (raw[q1 + 1] != 'B' && raw[q1 + 1] != 'b') continue;
    const auto close = raw.find("?=", q1 + 3);
    if (close == std::string_view::npos) break;
    const std::string_view text = raw.substr(q1 + 3, close - q1 - 3);
    if (text.find_first_of(" \t\r\n?") != std::string_view::npos) continue;
    words.push_back({pos, close + 2, raw.substr(pos + 2, q1 - pos - 2), text});
    pos = close;
  }
  std::string out;
  std::size_t copied = 0;
  for (std::size_t i = 0; i < words.size();) {
    std::size_t j = i;
    bool padded_inside = false;
    while (j + 1 < words.size() && iequals(words[j + 1].charset, words[i].charset) &&
           raw.substr(words[j].end, words[j + 1].begin - words[j].end).find_first_not_of(" \t\r\n") ==
               std::string_view::npos) {
      padded_inside = padded_inside || words[j].text.ends_with('=');
      ++j;
    }
    std::string bytes;
    bool decodable = padded_inside;
    for (std::size_t k = i; decodable && k <= j; ++k) {
      const auto d = base64_decode(words[k].text);
      decodable = d.has_value();
      if (decodable) bytes += *d;
    }
    if (decodable) {
      out.append(raw.substr(copied, words[i].begin - copied));
      out += "=?" + std::string(words[i].charset) + "?B?" + base64_encode(bytes) + "?=";
      copied = words[j].end;
    }
    i = j + 1;
  }
  out.append(raw.substr(copied));
  return out;
}

namespace {

using decoder = char* (*)(GMimeParserOptions*, const char*);

std::string decode_with(decoder decode, std::string_view raw) {
  raw = raw.substr(0, raw.find('\0'));
  if (raw.empty()) return {};
  detail::init_gmime();
  const std::string text = detail::merge_padded_b_words(raw);
  char* decoded = decode(nullptr, text.c_str());
  if (decoded == nullptr) return {};
  std::string out(decoded);
  g_free(decoded);
  return out;
}

// Removes quoted-string quoting (RFC 5322 3.2.4), which GMime's phrase decoder keeps.
std::string unquote(std::string_view s) {
  std::string out;
  bool quoted = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '"') {
      quoted = !quoted;
    } else if (quoted && s[i] == '\\' && i + 1 < s.size()) {
      out += s[++i];
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

std::string decode_header_text(std::string_view raw) { return decode_with(g_mime_utils_header_decode_text, raw); }

std::string decode_phrase(std::string_view raw) {
  return decode_with(g_mime_utils_header_decode_phrase, unquote(raw.substr(0, raw.find('\0'))));
}

}  // namespace mailbroker::mime
