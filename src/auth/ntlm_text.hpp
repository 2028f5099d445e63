#pragma once
// Text as NTLM carries it: UTF-16LE on the wire (we always negotiate Unicode), UTF-8 in
// our strings. Pure, no locale, no allocation beyond the result.
#include <string>
#include <string_view>

namespace mailbroker::auth::ntlm_text {

// True when `text` is well-formed UTF-8 (no overlong forms, no surrogates, <= U+10FFFF).
bool is_valid_utf8(std::string_view text);

// UTF-8 -> UTF-16LE bytes; characters above U+FFFF become surrogate pairs. Each
// ill-formed sequence becomes U+FFFD (callers that must not guess check is_valid_utf8
// first: the authenticator refuses such credentials before any message is built).
std::string utf16le(std::string_view utf8);

// UTF-16LE bytes -> UTF-8, for names the server sends (diagnostics only). An odd final
// byte is dropped; unpaired surrogates become U+FFFD.
std::string utf8_from_utf16le(std::string_view bytes);

// Upper-cases UTF-8 text the way NTOWFv2 needs for the user name (MS-NLMP 3.3.2
// "Uppercase(User)"; Windows uses a simple one-to-one mapping per UTF-16 unit, so ß stays
// ß). Covered: ASCII, Latin-1 Supplement, Latin Extended-A, basic Greek and Cyrillic;
// other characters are kept as they are. A user name with lower-case letters outside
// those blocks may therefore hash differently from a domain controller's: give it in
// upper case, or its UPN. Ill-formed UTF-8 becomes U+FFFD as in utf16le().
std::string uppercase(std::string_view utf8);

}  // namespace mailbroker::auth::ntlm_text
