#pragma once
// SASL client messages for OAuth 2.0 bearer tokens: XOAUTH2 (Google, Microsoft) and
// OAUTHBEARER (RFC 7628), plus the parser for the JSON error challenge a server sends
// when it rejects the token. Pure functions: no I/O, no exceptions.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace mailbroker::sasl {

// Returns base64("user=" user "\x01auth=Bearer " access_token "\x01\x01"), ready to send
// as the AUTHENTICATE XOAUTH2 initial response (SASL-IR) or as the answer to the first
// continuation. Nothing is escaped or validated: neither argument may contain \x01,
// otherwise the server splits the message differently. The result contains the token:
// never log it.
std::string xoauth2_initial_response(std::string_view user, std::string_view access_token);

// Returns the base64 OAUTHBEARER client response (RFC 7628 section 3.1):
//   "n,a=" authzid "," "\x01host=" host "\x01port=" port "\x01auth=Bearer " token "\x01\x01"
// In the GS2 header (RFC 5801) `user` is escaped: ',' becomes "=2C" and '=' becomes
// "=3D". An empty `user` gives the header "n,," (no authorization identity). The
// host=... pair is present only when `host` is not empty, port=... only when `port` is
// not 0 (each independently). `host` and `access_token` are not escaped or validated and
// must not contain \x01. The result contains the token: never log it.
std::string oauthbearer_initial_response(std::string_view user, std::string_view access_token,
                                         std::string_view host = {}, std::uint16_t port = 0);

// The JSON a server sends as its SASL challenge after rejecting a token (RFC 7628
// section 3.2.2, and Google's XOAUTH2 error: {"status":"401","schemes":"bearer",
// "scope":"https://mail.google.com/"}). Absent fields are empty. The client must then
// send the dummy response "\x01" (base64 "AQ==") and wait for the tagged NO.
struct oauth_error_challenge {
  std::string status;                // "401", "400", "invalid_token"...; numbers as decimal
  std::string scope;                 // space-separated scopes the token should carry
  std::string schemes;               // e.g. "bearer" (Google)
  std::string openid_configuration;  // JSON key "openid-configuration" (RFC 7628)
};

// Upper bound on the base64 challenge text accepted by parse_oauth_error_challenge.
inline constexpr std::size_t max_oauth_challenge_bytes = 64 * 1024;

// Decodes a server's base64 challenge text (the part after "+ " in IMAP; surrounding
// spaces, tabs, CR and LF are ignored) holding a JSON object. Unknown fields are
// ignored; "status" may be a JSON string or an integer; a known field of any other type
// (or null) is left empty rather than failing, since the challenge only serves
// diagnostics. Duplicate keys: the last one wins. Values are returned verbatim (use
// describe() for a log-safe form).
// Errors (errc::invalid_argument, message names the cause only): text longer than
// max_oauth_challenge_bytes, invalid base64, decoded bytes that are not JSON, JSON that
// is not an object.
result<oauth_error_challenge> parse_oauth_error_challenge(std::string_view base64_text);

// One-line human summary for logs and error messages, e.g.
// "status 401 (scope: https://mail.google.com/; schemes: bearer)". Missing parts are
// left out ("status unknown" when there is no status). Control characters are replaced
// by spaces and each field is cut to 200 bytes (at a UTF-8 boundary).
std::string describe(const oauth_error_challenge& challenge);

}  // namespace mailbroker::sasl
