#pragma once
// Graph failures as mailbroker errors, and the Retry-After header. Pure, reentrant.
//
// A Graph error body (learn.microsoft.com/graph/errors) is
//   {"error":{"code":"ErrorItemNotFound","message":"...","innerError":{"request-id":"...",
//    "date":"...","client-request-id":"..."}}}
// (innererror / innerError in either case). Our messages read
//   "Graph <code> (HTTP <status>, request-id <id>): <server message>[: <hint>]"
// with the server's message cleaned (common/text.hpp clean_text) and cut to
// max_quoted_bytes; the request-id is what Microsoft support asks for. The request's
// Authorization header is never an input here, so no token can end up in a message; a
// server message that mentions "Bearer " or "eyJ" (a JWT) is left out all the same.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "protocol/graph/json_text.hpp"

namespace mailbroker::graph {

// Longest wait a Retry-After may ask for; longer values are cut to this. Exchange
// Online asks for seconds to a few minutes; a broken header must not park a session
// for a day.
inline constexpr std::chrono::seconds max_retry_after{600};
// The wait assumed for a 429 / 503 without a usable Retry-After.
inline constexpr std::chrono::seconds default_retry_after{5};

// A Retry-After value (RFC 9110 10.2.3): delay-seconds ("120") or an HTTP-date ("Fri, 31
// Dec 1999 23:59:59 GMT", also the obsolete RFC 850 and asctime forms) relative to `now`.
// Blanks around it are ignored. A date in the past gives 0 s; every result is at most
// max_retry_after. nullopt when empty or malformed (the caller uses its default).
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now);

struct failure {
  error err;
  std::string code;        // Graph's error code ("ErrorItemNotFound"); "" when the body had none
  std::string request_id;  // "" when absent
  // Set for 429 and 503 (and any status with a Retry-After): how long to wait before the
  // next request to this mailbox — the header's value, else default_retry_after.
  std::optional<std::chrono::seconds> retry_after;
};

// What a non-2xx response means. `retry_after_header` is the raw header ("" when absent),
// `item` names the thing the request was about (an item id, "folder inbox") for not_found
// messages ("" = not named). Codes:
//   not_found           404, ErrorItemNotFound, ErrorFolderNotFound (anywhere), and
//                       ErrorInvalidUser / MailboxNotEnabledForRESTAPI / ResourceNotFound
//                       (the mailbox does not exist or has no Exchange Online licence);
//   unauthenticated     401 (token expired, wrong audience, revoked: get a new token);
//   permission_denied   403, ErrorAccessDenied, ErrorSendAsDenied, Authorization_RequestDenied:
//                       names the permission when the server's message names one
//                       (e.g. Mail.ReadWrite), else says which ones the operation needs;
//   unavailable         429, 503, 502, 504, 500 and ErrorServerBusy /
//                       ApplicationThrottled / MailboxConcurrency (with retry_after);
//   failed_precondition 409, 412, 410 (SyncStateNotFound / a delta link too old: start a
//                       new round), ErrorIrresolvableConflict; 400 with ErrorInvalidIdMalformed
//                       or an unknown folder name go to invalid_argument;
//   invalid_argument    400 and 413 otherwise (the request carried something Graph refuses;
//                       with ErrorInvalidRecipients, ErrorMessageSizeExceeded);
//   internal            405, 406, 415, 501 (our request is wrong: a bug) and 3xx (the
//                       client follows no redirects);
// A body that is not a Graph error (HTML from a proxy, truncated JSON) says so with the
// HTTP status and is unavailable, except for 401 / 403 / 404, which keep their codes.
failure response_error(int http_status, std::string_view body, std::string_view retry_after_header,
                       std::chrono::system_clock::time_point now, std::string_view item = {});

}  // namespace mailbroker::graph
