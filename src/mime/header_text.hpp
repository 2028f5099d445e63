#pragma once
// Header text as mail clients show it: RFC 2047 encoded words decoded, any charset
// converted to UTF-8. A thin wrapper over GMime 3, which knows the charsets (through
// iconv) and the quirks of real mail (words split mid-character, missing spaces between
// words, raw 8-bit headers).
//
// Threading: safe from any thread; GMime is initialised once on first use
// (g_mime_init, under std::call_once) and never shut down.
#include <string>
#include <string_view>

namespace mailbroker::mime {

// Unstructured header text (RFC 2047 section 5 (1), e.g. Subject) as UTF-8:
//   - encoded words "=?charset?B|Q?...?=" in any charset GMime/iconv knows are decoded;
//     adjacent encoded words separated only by white space are joined without it;
//   - words that cannot be decoded (unknown charset, broken base64) are kept as sent;
//   - raw 8-bit text that is not UTF-8 is converted with GMime's fallback charsets
//     (UTF-8, then ISO-8859-1 by default), so the result is always valid UTF-8;
//   - a NUL byte ends the text (GMime works on C strings);
//   - an encoded word in a charset iconv does not know is decoded with the fallback
//     charsets too (GMime's choice), so "=?x-unknown?Q?caf=E9?=" gives "café".
// Never throws; "" gives "". Folding (CRLF + white space) is unfolded by GMime.
std::string decode_header_text(std::string_view raw);

// A phrase (RFC 5322 display name, e.g. an ENVELOPE address name) as UTF-8: like
// decode_header_text, but with phrase rules (encoded words only as whole words). Quoted-
// string quoting is removed first ("\"Doe, John\"" → "Doe, John"), so encoded words
// inside quotes — invalid, but common — are decoded too, as mail clients do.
std::string decode_phrase(std::string_view raw);

}  // namespace mailbroker::mime
