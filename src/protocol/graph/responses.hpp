#pragma once
// Graph mail responses read from strings (2xx bodies; failures go to errors.hpp). No I/O.
//
// Parsing: parse_body() (json_text.hpp: size and nesting bounded, never throws). Members
// are matched by their exact names; unknown members are ignored; a member of the wrong
// JSON type counts as absent and sets summary_incomplete where a summary has it.
//
// Bounds (a hostile server costs at most this):
//   max_body_bytes / max_json_depth   (json_text.hpp) per body;
//   max_entries_per_page              messages / folders / removals per page (more:
//                                     resource_exhausted; we never ask for more than
//                                     max_page_size);
//   max_recipients_kept               to / cc kept per message (the rest dropped and
//                                     summary_incomplete set);
//   max_text_bytes                    any text (json_text.hpp clean_text: XML-forbidden
//                                     code points -> U+FFFD, cut at a UTF-8 boundary).
// Links (@odata.nextLink, @odata.deltaLink) are returned as sent, cleaned; turn them into
// requests with relative_link() (endpoints.hpp), which refuses links to other hosts.
// Errors: what parse_body() returns (unavailable naming `what` and the HTTP status for
// HTML / truncated / non-object bodies), resource_exhausted for too many entries, and
// unavailable when the body lacks its collection ("value" not an array).
// Threading: none, reentrant.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "mailbox/message_types.hpp"
#include "protocol/graph/json_text.hpp"

namespace mailbroker::graph {

inline constexpr std::size_t max_entries_per_page = 1000;
inline constexpr std::size_t max_recipients_kept = 500;

// ---- Folders --------------------------------------------------------------------------

struct mail_folder {
  std::string id, display_name, parent_id;
  std::uint32_t child_folder_count = 0, unread_item_count = 0, total_item_count = 0;
};

struct folder_page {
  std::vector<mail_folder> folders;
  std::string next_link;  // "" when this is the last page
};

// A mailFolders / childFolders listing: {"value":[{mailFolder}...],"@odata.nextLink":..}.
// An entry without a string id is skipped (nothing can name it).
result<folder_page> parse_folder_list(std::string_view body, int http_status = 200);

// One mailFolder (GET mailFolders/<id or well-known name>). Errors as above, plus
// unavailable when it has no id.
result<mail_folder> parse_folder(std::string_view body, int http_status = 200);

// ---- Messages -------------------------------------------------------------------------

// One Graph message as a summary:
//   id -> item_id; changeKey -> change_key; subject; from.emailAddress {name, address};
//   toRecipients / ccRecipients (when present); receivedDateTime -> internal_date;
//   sentDateTime -> date; isRead -> seen and flag "\Seen"; flag.flagStatus "flagged" ->
//   flag "\Flagged"; hasAttachments; internetMessageId -> message_id; size from the
//   single-value extended property "Integer 0xe08" (PidTagMessageSize) when expanded.
// A present field of the wrong type, an unreadable date or size, or recipients beyond
// max_recipients_kept set summary_incomplete. uid stays 0.
// Errors: the object has no string id (unavailable).
result<mailbox::message_summary> summary_of(const json& message);

struct message_list {
  std::vector<mailbox::message_summary> messages;
  std::string next_link;           // "" when this is the last page
  std::optional<std::uint64_t> count;  // @odata.count when the request asked for it
};

// A messages listing: {"value":[{message}...],"@odata.nextLink":..}. An entry without an
// id is skipped.
result<message_list> parse_message_list(std::string_view body, int http_status = 200);

// One message (GET messages/<id>, and the reply to move / copy: the message in its new
// folder, with its new id).
result<mailbox::message_summary> parse_message(std::string_view body, int http_status = 200);

// ---- Delta ----------------------------------------------------------------------------

struct removed_message {
  std::string id;
  std::string reason;  // "deleted" (gone or moved out of the folder) / "changed"; "" if absent
};

struct delta_page {
  std::vector<mailbox::message_summary> changed;  // created or updated, in page order
  std::vector<removed_message> removed;           // entries carrying "@removed"
  // Exactly one of them is set on a well-formed page: next_link while the round goes on,
  // delta_link on its last page (keep it: the next round starts there).
  std::string next_link, delta_link;
};

// A messages/delta page. Errors as above, plus unavailable when neither
// @odata.nextLink nor @odata.deltaLink is present (a round could never end).
result<delta_page> parse_delta_page(std::string_view body, int http_status = 200);

}  // namespace mailbroker::graph
