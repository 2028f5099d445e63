#pragma once
// Reading pugixml nodes by local name ("m:Items" and "Items" alike) and turning values
// into numbers. Internal to mb_ews_codec's response readers.
#include <pugixml.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace mailbroker::ews::detail {

// resource_exhausted when `body` is larger than max_envelope_bytes or holds more than
// max_markup_tokens '<' and '=' (responses.hpp); `what` names the document.
error check_body_size(std::string_view body, std::string_view what);

// Parses prepare_for_parse(body) in place with the options responses.hpp documents:
// `storage` receives the text and must outlive `document`, which points into it.
pugi::xml_parse_result load(std::string_view body, std::string& storage, pugi::xml_document& document);

// "FindItemResponse" for <m:FindItemResponse>.
std::string_view local_name(pugi::xml_node node);

// The first element child of `node` with that local name; an empty node when none.
pugi::xml_node child(pugi::xml_node node, std::string_view local);

// The attribute with that local name; "" when absent.
std::string_view attribute(pugi::xml_node node, std::string_view local);

// The node's text as sent (after pugixml's decoding), "" for an empty or absent node.
std::string_view raw_text(pugi::xml_node node);

// raw_text() through clean_text(): valid UTF-8, forbidden code points as U+FFFD, cut at
// max_text_bytes.
std::string text(pugi::xml_node node);

std::optional<std::uint32_t> to_u32(std::string_view s);
std::optional<std::uint64_t> to_u64(std::string_view s);
// xs:boolean: "true" / "false" / "1" / "0".
std::optional<bool> to_bool(std::string_view s);

// The name made safe to quote in an error message: letters, digits, '_', '-', '.' and
// ':' only, at most 64 characters; "" when it holds anything else.
std::string safe_name(std::string_view name);

// A protocol violation by the server (errc::unavailable, as IMAP's client reports them).
error protocol_error(std::string what);

}  // namespace mailbroker::ews::detail
