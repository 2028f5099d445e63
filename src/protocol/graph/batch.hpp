#pragma once
// JSON batching (learn.microsoft.com/graph/json-batching): up to 20 requests in one
// POST /$batch, each answered separately. Pure, reentrant.
//
// Why: Exchange Online allows 4 concurrent requests per mailbox and app; a bulk flag /
// move / delete of 100 messages is 5 batches instead of 100 requests. Graph runs the
// requests of a batch in any order (no dependsOn here: each is independent), and each
// member of a batch still counts against the mailbox's limits, so a member can come back
// 429 with its own Retry-After while the others succeed.
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "protocol/graph/errors.hpp"
#include "protocol/graph/requests.hpp"

namespace mailbroker::graph {

// Graph's limit of requests per batch.
inline constexpr std::size_t max_batch_requests = 20;
// Headers kept per batch response (more are dropped) and the longest header value kept.
inline constexpr std::size_t max_batch_headers = 32;
inline constexpr std::size_t max_header_value_bytes = 1024;

// POST /$batch, Content-Type application/json, body
//   {"requests":[{"id":"1","method":"PATCH","url":"/me/messages/AAMk...",
//     "headers":{"Content-Type":"application/json", ...},"body":{...}}, ...]}
// with ids "1".."n" in the order given (batch_response::id names them). A JSON body goes
// in as a JSON value; a text/plain body (a MIME send) as a JSON string. Errors
// (invalid_argument): no requests, more than max_batch_requests, a request whose url does
// not start with '/', or a JSON body that does not parse.
result<request> batch(const std::vector<request>& requests);

struct batch_response {
  std::string id;      // the request's id ("1".."20")
  int status = 0;      // its HTTP status
  std::vector<std::pair<std::string, std::string>> headers;  // as sent, values cleaned
  std::string body;    // the body serialised as JSON ("" when absent); a string body
                       // (non-JSON content) as its string value
  bool body_is_json = false;

  // The header's value ("" when absent), name matched ignoring ASCII case.
  std::string_view header(std::string_view name) const;
};

// The "responses" of a $batch reply, in the order sent (Graph's order, not ours: match by
// id). Entries without an id or status are skipped. Errors as parse_body() (json_text.hpp);
// unavailable when "responses" is missing; resource_exhausted with more than
// max_batch_requests entries.
result<std::vector<batch_response>> parse_batch(std::string_view body, int http_status = 200);

// The outcome of one batch member: ok for 2xx, else response_error() of its status, body
// and Retry-After header (errors.hpp).
failure batch_member_error(const batch_response& r, std::chrono::system_clock::time_point now,
                           std::string_view item = {});

}  // namespace mailbroker::graph
