#pragma once
// Whole messages (MimeContent) of an EWS session, read through the session's message cache
// so bots sharing the session fetch each item version once:
// - a ref with a change key is answered from the cache when that version's body is there
//   (message_cache::item_body: an item's MimeContent is fixed for a given ChangeKey);
// - a GetItem of the item already in flight (another operation on the strand) is waited
//   for, then the cache is asked again;
// - otherwise one GetItem brings the body, and in the same request up to
//   max_batched_items - 1 bodies other callers wait for in the queue
//   (message_cache::take_wanted_items) whose listed size is at most
//   cache_limits::max_body_bytes; each item has its own response message, so one missing
//   item fails only its own call.
// A ref without a change key is always fetched. Every body fetched (≤ max_body_bytes) is
// kept under the change key GetItem returns; an item GetItem reports missing is forgotten.
//
// Threading: on the session's strand only (ctx.lists_in_flight).
#include <cstdint>
#include <string>

#include "common/error.hpp"
#include "mailbox/message_types.hpp"
#include "net/asio.hpp"
#include "session/operation.hpp"

namespace mailbroker::mailbox::ews_bodies {

// Items in one GetItem for bodies: the caller's own plus those other callers wait for.
// With each batched one at most cache_limits::max_body_bytes (256 KiB by default), a
// response stays under ~16 x 256 KiB x 4/3 (base64) beyond the caller's own message.
inline constexpr std::size_t max_batched_items = 16;

// The key under which a GetItem of `item_id` runs in ctx.lists_in_flight.
std::string fetch_key(const std::string& item_id);

// The raw RFC 5322 bytes of the item `ref` names (ref.item_id set: the caller checked).
// Errors: not_found (the item does not exist: moved or deleted), failed_precondition (larger
// than max_bytes), internal (no MimeContent), and the request's own (unavailable, ...).
awaitable<result<std::string>> read(session::connection_context& ctx, message_ref ref, std::uint64_t max_bytes);

}  // namespace mailbroker::mailbox::ews_bodies
