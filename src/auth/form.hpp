#pragma once
// URL encodings for the OAuth flows: token endpoint request bodies
// (application/x-www-form-urlencoded), authorization URL query parameters, and the query
// of the loopback redirect (?code=...&state=...). Pure, byte-oriented: strings are
// treated as octets (UTF-8 is encoded byte by byte, never validated). No exceptions.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailbroker::auth {

// Serializes `fields` in order as name=value pairs joined by '&', per the WHATWG URL
// standard's application/x-www-form-urlencoded serializer: bytes A-Z a-z 0-9 * - . _
// are kept, space becomes '+', every other byte becomes %XX (upper-case hex). Empty
// names and values are kept ("=" and "a=" are emitted as is). An empty list gives "".
std::string form_urlencode(const std::vector<std::pair<std::string, std::string>>& fields);

// Percent-encodes every byte except the RFC 3986 unreserved set (A-Z a-z 0-9 - . _ ~),
// with upper-case hex; space becomes "%20". Safe for a query name or value, a path
// segment or a fragment.
std::string percent_encode(std::string_view text);

// Parses a URL query (or a form body) into name -> value. One leading '?' is skipped;
// pairs are separated by '&'; empty pairs ("a=1&&b=2", a trailing '&') are skipped; a
// pair without '=' has the value "". In names and values '+' decodes to a space and %XX
// (either case of hex) to that byte; decoded bytes are returned as is (may be non-UTF-8
// or contain NUL). Returns nullopt when a '%' is not followed by two hex digits or when a
// name occurs twice (after decoding) — an ambiguous redirect must be refused, not
// guessed. "" gives an empty map.
std::optional<std::map<std::string, std::string>> parse_query(std::string_view query);

}  // namespace mailbroker::auth
