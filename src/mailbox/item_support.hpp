#pragma once
// What the item-id backends (EWS, Graph) share beyond folder paths and listings: checking
// that a call names messages by item id, the offset page token of ListMessages, the key
// under which identical listings meet, and the size rule of whole-message reads. Pure.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "mailbox/imap_mailbox.hpp"
#include "mailbox/message_types.hpp"

namespace mailbroker::mailbox::item_support {

// invalid_argument naming `field`[i] for a ref without an item id ("<protocol> sessions name
// messages by item_id ..."), or when there are none or more than max_uids_per_call.
error check_refs(const std::vector<message_ref>& refs, std::string_view field, std::string_view protocol);

// Applies ListMessages' default limit (100) and checks it (at most max_list_limit), then
// reads the page token: "" = 0, else the offset a previous reply gave as next_page_token.
// Errors: invalid_argument naming limit or page_token.
result<std::uint32_t> page_offset(list_query& query);

// Everything that makes two list calls of one protocol the same question (folder, filter,
// order, limit, page token): the key shared_listing() coalesces by. Starts with '\x01' and
// `protocol`, as no IMAP wire name does.
std::string listing_key(std::string_view protocol, const std::string& folder, const list_query& query);

// failed_precondition: "the message is N bytes; at most M are read here".
error too_large(std::size_t size, std::uint64_t max_bytes);
// `body` when it is at most max_bytes, else too_large().
result<std::string> checked_copy(const std::string& body, std::uint64_t max_bytes);

}  // namespace mailbroker::mailbox::item_support
