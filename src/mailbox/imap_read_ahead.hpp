#pragma once
// IMAP read-ahead (SessionSpec.read_ahead_bytes): after a ListMessages page, the bodies of
// its messages are fetched into the session's message cache with one UID FETCH, so the
// GetMessage calls a bot makes next for what it listed are answered from memory: one
// round trip for the page instead of one per message.
//
// Two steps, both on the session's strand:
// - plan_read_ahead(), inside the ListMessages turn: picks the page's messages to bring
//   (page order; not cached; not planned or being read already; each at most the cache's
//   largest body; until the byte budget) and marks them planned, so the other bots that
//   list the same page plan nothing more;
// - read_ahead(), in a turn of its own that the caller queues for the same lease: fetches
//   them. While its FETCH is in flight, a GetMessage of one of them waits for it
//   (read_ahead_in_flight(), used by fetch_chunk) instead of fetching the same bytes. A
//   plan not yet started is not waited for: reads waiting for a turn that cannot come
//   (every pipeline slot held by such waiters) would never end.
// The marks live in ctx.lists_in_flight under keys starting with '\x02' (planned) and
// '\x03' (being read): no IMAP wire name, and no EWS key ('\x01'), starts so.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mailbox/message_types.hpp"
#include "net/asio.hpp"
#include "session/operation.hpp"

namespace mailbroker::mailbox {

struct read_ahead_plan {
  std::string folder;       // as the caller named it
  std::string folder_wire;  // connection_context::selected_mailbox form
  std::uint32_t uid_validity = 0;
  std::vector<std::uint32_t> uids;  // page order
  // Held by the table under the planned keys while this plan lives: a mark whose only
  // owner is the table is stale (the plan was dropped without running, e.g. refused
  // because the session closed) and plans can take its uids again.
  std::shared_ptr<session::inflight_list> mark;
};

// The plan for `page` (listed in `folder`), or null when there is nothing to read ahead.
// `executor`: the strand's (the mark's timer is never waited on).
std::shared_ptr<read_ahead_plan> plan_read_ahead(session::connection_context& ctx, asio::any_io_executor executor,
                                                 const std::string& folder, const message_page& page,
                                                 std::uint64_t budget_bytes);

// Fetches the plan's bodies that are still not cached into the cache (nothing when
// ctx is null: the turn was refused). Errors are only logged: the GetMessage calls that
// follow fetch what is missing themselves.
awaitable<void> read_ahead(session::connection_context* ctx, std::shared_ptr<read_ahead_plan> plan);

// The read-ahead FETCH in flight that brings `uid` of `folder_wire`, if any.
std::shared_ptr<session::inflight_list> read_ahead_in_flight(session::connection_context& ctx,
                                                             const std::string& folder_wire, std::uint32_t uid);

}  // namespace mailbroker::mailbox
