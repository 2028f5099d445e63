#pragma once
// Body text to UTF-8. Charset conversion is iconv's (through GMime's charset aliases);
// this file only decides which charset to believe.
#include <string>
#include <string_view>

namespace mailbroker::mime {

// `bytes` (already transfer-decoded) as UTF-8, given the charset parameter the part
// declares ("" if none):
//   - none or US-ASCII: the bytes if they are valid UTF-8 (8-bit text sent without a
//     charset is UTF-8 far more often than anything else today), else windows-1252
//     (the WHATWG default for undeclared legacy mail);
//   - ISO-8859-1 / latin1: decoded as windows-1252, its superset for every printable byte
//     (mailers often label cp1252 “smart quotes” as latin1; WHATWG does the same);
//   - any other charset iconv knows (KOI8-R, ISO-2022-JP, Shift_JIS, …): converted;
//   - a charset iconv does not know: as if none was declared.
// Bytes invalid in the chosen charset become U+FFFD, so the result is always valid UTF-8.
// A NUL byte is kept (it is valid UTF-8).
std::string to_utf8(std::string_view bytes, std::string_view charset);

}  // namespace mailbroker::mime
