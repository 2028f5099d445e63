#pragma once
// Text going into and coming out of EWS XML. Pure functions, reentrant.
//
// Why this exists: Exchange writes characters that XML 1.0 forbids as numeric character
// references (a subject holding 0x01 arrives as "&#x1;", a lone surrogate as "&#xD800;").
// A strict XML parser rejects the whole response; pugixml decodes them, so one bad
// subject no longer fails a whole FindItem. What pugixml hands over is then not always
// valid UTF-8 (a surrogate comes out as the bytes ED A0 80); clean_text() repairs it.
//
// What callers see: every summary text (subject, names, addresses, folder names, ids)
// has each code point XML 1.0 forbids replaced by U+FFFD. Raw messages are untouched:
// MimeContent is base64, so its bytes are the original bytes whatever they hold.
#include <cstddef>
#include <string>
#include <string_view>

namespace mailbroker::ews {

// Longest text field a parser keeps (subject, display name, address, message id, folder
// name, ...), in bytes; longer values are cut at a UTF-8 boundary. Exchange limits a
// subject to 255 characters, so only a hostile server comes near it.
inline constexpr std::size_t max_text_bytes = 64 * 1024;

// The text as valid UTF-8 in which every code point XML 1.0 forbids is U+FFFD (EF BF BD):
//   - controls 0x00-0x08, 0x0B-0x0C, 0x0E-0x1F (TAB, LF and CR stay);
//   - surrogates 0xD800-0xDFFF, including their 3-byte encodings (ED A0 80 .. ED BF BF),
//     each sequence becoming one U+FFFD;
//   - noncharacters 0xFDD0-0xFDEF and 0x?FFFE / 0x?FFFF in every plane (0 to 16);
//   - every invalid UTF-8 sequence (stray continuation bytes, truncated or overlong
//     sequences, code points above 0x10FFFF, bytes C0, C1, F5-FF): one U+FFFD per
//     maximal invalid subpart (Unicode 15 section 3.9, "U+FFFD substitution of maximal
//     subparts"), as browsers and ICU do.
// Everything else is copied unchanged, so the output of clean text is the input.
// The result is cut to at most max_bytes bytes at a character boundary (no ellipsis).
// Unlike mailbroker::clean_text (common/text.hpp, for log lines), control characters are
// not folded into spaces: the text stays as the sender wrote it, minus what XML forbids.
std::string clean_text(std::string_view in, std::size_t max_bytes = max_text_bytes);

// `text` made safe as XML character data and as an attribute value in double or single
// quotes: & < > " ' become entity references; TAB, LF and CR become &#9; &#10; &#13; so
// that neither attribute-value normalisation nor line-end normalisation alters them.
// Whatever XML 1.0 cannot carry at all (see clean_text) becomes U+FFFD first, so the
// output is always well-formed. Never cut.
std::string xml_escape(std::string_view text);

// Prepares a response body for pugixml, returning a copy in which
//   - every NUL byte, and
//   - every numeric character reference "&#N;" / "&#xH;" whose value is 0 or above
//     0x10FFFF (any number of digits, no overflow)
// is replaced by U+FFFD's UTF-8 bytes, outside CDATA sections and comments.
// Why: pugixml decodes "&#0;" to a NUL byte, which ends every C string it hands out (a
// subject "a&#0;b" would read as "a"), and wraps overflowing references modulo 2^32
// ("&#x100000041;" would read as "A"). All other references are left for pugixml.
std::string prepare_for_parse(std::string_view body);

}  // namespace mailbroker::ews
