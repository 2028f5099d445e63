#pragma once
// Parser for OAuth 2.0 token endpoint responses (RFC 6749 sections 5.1 and 5.2), for the
// authorization-code and refresh-token grants. Pure: the caller does the HTTP exchange
// and passes the status, the Content-Type header and the body. No exceptions.
//
// No-secrets rule: error messages produced here name fields and causes only. They never
// contain the access_token, refresh_token or id_token values, nor any other part of the
// body except, for RFC 6749 error responses, the server's `error` code and its
// `error_description` (cleaned and truncated, see below). The token_response returned on
// success holds secrets: never log it.
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace mailbroker::auth {

// Bodies larger than this are rejected (errc::unavailable) without being parsed.
inline constexpr std::size_t max_token_response_bytes = std::size_t{1} << 20;  // 1 MiB
// expires_in must be in [1, max_expires_in] (10 years of 365 days).
inline constexpr std::chrono::seconds max_expires_in{10LL * 365 * 24 * 3600};
// error_description is cut to this many bytes (at a UTF-8 boundary) in error messages.
inline constexpr std::size_t max_error_description_bytes = 300;

// A successful response (RFC 6749 section 5.1). Empty strings mean "absent".
struct token_response {
  std::string access_token;                        // non-empty
  std::string token_type;                          // as received; equals "bearer" ignoring case
  std::optional<std::chrono::seconds> expires_in;  // absent or null -> nullopt
  std::string refresh_token;                       // usually absent on refresh (Google)
  std::string scope;                               // space-separated, as granted
  std::string id_token;                            // OpenID Connect JWT, not verified here
};

// An error response (RFC 6749 section 5.2), verbatim from the server.
struct token_error {
  std::string error;              // non-empty, e.g. "invalid_grant"
  std::string error_description;  // free text (may contain CR/LF): clean before logging
  std::string error_uri;
};

// Interprets one token endpoint answer.
//
// HTTP 2xx: the body must be a JSON object (whatever the Content-Type says; a
// Content-Type is only used to word the error). Fields:
//   access_token   required, non-empty string
//   token_type     required string, "Bearer" in any case
//   expires_in     optional; a JSON integer, an integral JSON float, or a string of
//                  ASCII digits only (Microsoft has sent strings); 1..max_expires_in
//   refresh_token, scope, id_token   optional strings
// null counts as absent for optional fields; unknown fields (ext_expires_in...) are
// ignored; for duplicate keys the last one wins.
//
// Errors, all as `error` with a message starting "token endpoint":
//   unavailable          body > max_token_response_bytes; 2xx body that is not a JSON
//                        object; HTTP 429 and 5xx ("token endpoint answered HTTP 503");
//                        other 4xx without an RFC 6749 error body; 1xx/3xx/other statuses
//   failed_precondition  2xx with a field missing, of the wrong type, empty, out of
//                        range, or a token_type other than Bearer (message names the
//                        field, never its value)
//   RFC 6749 error body (4xx other than 429, or a 2xx object with "error" and no
//   "access_token"): message "token endpoint: <error>: <error_description>", code
//     unauthenticated    invalid_client, invalid_grant, unauthorized_client, access_denied
//     invalid_argument   invalid_request, invalid_scope, unsupported_grant_type
//     unavailable        server_error, temporarily_unavailable
//     otherwise          unauthenticated for HTTP 401/403, else failed_precondition
//                        (e.g. authorization_pending)
//   In that message, runs of control characters become one space, `error` is cut to 100
//   bytes and `error_description` to max_error_description_bytes.
result<token_response> parse_token_response(int http_status, std::string_view content_type,
                                            std::string_view body);

// The RFC 6749 section 5.2 error in `body`, whatever the HTTP status, for callers that
// need the exact `error` string (e.g. invalid_grant means "re-authorize"). Returns nullopt
// unless the body (at most max_token_response_bytes) is a JSON object whose "error" is a
// non-empty string. error_description / error_uri are empty when absent or not strings.
// Values are raw server text.
std::optional<token_error> parse_token_error(std::string_view body);

}  // namespace mailbroker::auth
