#pragma once
// JSON and text helpers shared by the Graph request builders and response readers. Pure,
// reentrant, no exceptions escape.
//
// Why a bounded parse: nlohmann::json parses iteratively, but serialising (dump) and, in
// older releases, destroying a value recurse once per nesting level, so a body of a
// million '[' would overflow the stack later. parse_body() refuses such bodies before
// nlohmann sees them. Graph responses nest at most ~6 levels (a $batch response holding a
// message list holding a recipient's emailAddress).
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/error.hpp"

namespace mailbroker::graph {

using json = nlohmann::json;
using time_point = std::chrono::system_clock::time_point;

// Largest response body a reader accepts (bigger: resource_exhausted). A page of 1000
// summaries with every recipient is a few MiB; a $batch of 20 such pages stays below this.
inline constexpr std::size_t max_body_bytes = 64 * 1024 * 1024;
// Deepest nesting of arrays and objects a body may have (deeper: unavailable).
inline constexpr std::size_t max_json_depth = 32;
// Longest text field a reader keeps (subject, display name, address, id, folder name),
// in bytes; longer values are cut at a UTF-8 boundary. Outlook limits a subject to 255
// characters and an item id is ~150 bytes, so only a hostile server comes near it.
inline constexpr std::size_t max_text_bytes = 64 * 1024;
// Longest piece of server text (an error message) quoted in our error messages.
inline constexpr std::size_t max_quoted_bytes = 200;

// The text as valid UTF-8 in which every code point XML 1.0 forbids is U+FFFD, the same
// contract as ews::clean_text (protocol/ews/xml_text.hpp), so summaries read the same
// whatever protocol delivered them: controls other than TAB / LF / CR, surrogates,
// noncharacters (U+FDD0..U+FDEF, U+?FFFE, U+?FFFF) and each maximal invalid UTF-8
// subpart become U+FFFD; everything else is copied. Cut to at most max_bytes at a
// character boundary (no ellipsis). JSON strings from nlohmann are valid UTF-8 already,
// but "\u0001" in JSON decodes to a control character, which this removes.
std::string clean_text(std::string_view in, std::size_t max_bytes = max_text_bytes);

// The deepest nesting of '[' / '{' in `body`, outside JSON strings (escapes honoured).
// Stops counting (returns limit + 1) as soon as the depth exceeds `limit`.
std::size_t json_depth(std::string_view body, std::size_t limit = max_json_depth);

// Parses a response body. Errors:
//   resource_exhausted  larger than max_body_bytes;
//   unavailable         empty, nested deeper than max_json_depth, not JSON (an HTML error
//                       page, a truncated body), or not a JSON object at the top; the
//                       message names `what` (e.g. "Graph message list") and the HTTP
//                       status, never the body.
result<json> parse_body(std::string_view body, int http_status, std::string_view what);

// The string member `key` of `object`, cleaned and cut to max_bytes; nullopt when the
// member is absent, null or not a string (also when `object` is not an object).
std::optional<std::string> string_member(const json& object, std::string_view key,
                                         std::size_t max_bytes = max_text_bytes);

// "2026-12-06T12:50:10Z", with up to 9 fraction digits (more are read and dropped), or a
// zone "+hh:mm" / "-hh:mm" (up to 14:00), or none (read as UTC: Graph writes UTC unless a
// Prefer: outlook.timezone header asks otherwise, which we never send). nullopt when
// malformed, when the date does not exist, or outside the years 1678-2261 (what
// system_clock's nanoseconds hold; Outlook's "no date" 4501-01-01 is one of these).
std::optional<time_point> parse_iso8601(std::string_view text);

// "2026-12-06T12:50:10Z": whole seconds, rounded down, UTC.
std::string format_iso8601(time_point t);

}  // namespace mailbroker::graph
