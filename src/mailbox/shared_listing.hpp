#pragma once
// Identical ListMessages calls of item-id sessions (EWS, Graph) share one listing, under
// IMAP's rule (imap_mailbox.cpp): a call takes the answer of an identical listing that
// started after the call arrived — finished (message_cache::list_since) or still running
// (ctx.lists_in_flight) — never an older one, so no call sees the mailbox as it was before
// the call was made.
//
// Threading: on the session's strand only.
#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "common/error.hpp"
#include "mailbox/message_types.hpp"
#include "net/asio.hpp"
#include "session/operation.hpp"

namespace mailbroker::mailbox {

// `key` is everything that makes two calls the same question (folder, filter, order,
// limit, page token), starting with '\x01' and the protocol (no IMAP wire name does).
// `arrived` is when the call was made (nullopt: always ask). `fetch` asks the server; its
// answer is remembered under `key` for calls that arrived before it started.
awaitable<result<message_page>> shared_listing(session::connection_context& ctx, std::string key,
                                               std::optional<std::chrono::steady_clock::time_point> arrived,
                                               std::function<awaitable<result<message_page>>()> fetch);

}  // namespace mailbroker::mailbox
