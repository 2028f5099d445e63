#pragma once
// Mailbox operations over a session's live IMAP connection: the coroutines behind the
// Mailbox gRPC service. Each runs inside one turn of the session's operation queue
// (session::connection_context), issues a few IMAP commands and returns core types.
//
// Folder names are UTF-8 here and modified UTF-7 on the wire. Every command is bounded
// by ctx.command_timeout. Errors: not_found (folder or uid), failed_precondition (a
// capability is missing), invalid_argument (a field, named), unavailable /
// deadline_exceeded (the connection failed: the session reconnects), internal (the
// server answered something we cannot read).
//
// Threading: on the session's strand only.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "net/asio.hpp"
#include "mailbox/message_types.hpp"
#include "protocol/imap/mailbox_codec.hpp"
#include "session/operation.hpp"

namespace mailbroker::mailbox {

enum class list_order { oldest_first, newest_first };

struct list_query {
  std::string folder = "INBOX";
  imap::search_criteria criteria;  // criteria.after_uid pages oldest first
  std::uint32_t limit = 100;       // 1..max_list_limit
  list_order order = list_order::oldest_first;
  std::uint32_t before_uid = 0;    // newest first: only uids below this; 0 = no bound
  std::string page_token;          // item-id protocols (EWS): from message_page::next_page_token
  // When the call was made: an identical list whose commands started later answers it
  // (message_cache::list_since). Unset: always asks the server.
  std::optional<std::chrono::steady_clock::time_point> arrived;
};

inline constexpr std::uint32_t max_list_limit = 1000;
inline constexpr std::size_t max_uids_per_call = 1000;
inline constexpr std::uint64_t max_chunk_bytes = 1024 * 1024;
// Bodies fetched together with the one a call needs, when other callers wait for them.
inline constexpr std::size_t max_batched_bodies = 32;
// Calls that need a whole message in memory (parsing it, POP3 reads, replies and
// forwards) refuse larger ones with failed_precondition.
inline constexpr std::uint64_t max_whole_message_bytes = 32 * 1024 * 1024;

struct chunk {
  std::uint64_t offset = 0;
  std::string data;
  std::uint64_t total_size = 0;
};

// The folder's name as sent in commands (modified UTF-7, quoted when needed), the form
// connection_context::selected_mailbox holds. `field` names the request field in errors.
result<std::string> wire_name(const std::string& folder, const char* field);

// SELECTs `folder` ("" = INBOX) unless it is selected already; sets ctx.uid_validity
// and, when it selected and `state` is not null, *state (with CONDSTORE when the server
// offers it). Errors: not_found for a folder that does not exist.
awaitable<error> select_folder(session::connection_context& ctx, const std::string& folder,
                               imap::selected_state* state = nullptr);

// SELECTs `folder` and returns the uids matching `criteria`, ascending and unique (only
// those above criteria.after_uid). References must outlive the call (callers co_await it
// at once).
awaitable<result<std::vector<std::uint32_t>>> search_uids(session::connection_context& ctx, const std::string& folder,
                                                          const imap::search_criteria& criteria);

// Summaries of `uids` in the selected folder, ascending; uids that do not exist are
// left out.
awaitable<result<std::vector<message_summary>>> fetch_summaries(session::connection_context& ctx,
                                                                std::vector<std::uint32_t> uids);

awaitable<result<std::vector<folder>>> list_folders(session::connection_context& ctx, std::string pattern,
                                                    std::string regex);

awaitable<result<message_page>> list_messages(session::connection_context& ctx, list_query query);

// Bytes [offset, offset + max_bytes) of the message's raw RFC 5322 form (BODY.PEEK:
// does not set \Seen). total_size comes from RFC822.SIZE. not_found for an unknown uid.
awaitable<result<chunk>> fetch_chunk(session::connection_context& ctx, std::string folder, std::uint32_t uid,
                                     std::uint64_t offset, std::uint64_t max_bytes);

// set_flags, copy_messages and delete_messages pipeline a "UID SEARCH UID <set>" before
// the change (no extra round trip): the uids that exist are changed, then not_found names
// the ones that do not ("uids 7, 9 are not in folder 'INBOX' ...; the other 3 were
// moved to 'Archive'", or "...; nothing was changed"). Not all-or-nothing: a bot that
// gets not_found knows the rest was done (a move's new uids are then not returned).
// A connection lost after the change was sent is aborted "outcome unknown" (see
// imap::client::execute()).
awaitable<error> set_flags(session::connection_context& ctx, std::string folder, std::vector<std::uint32_t> uids,
                           std::optional<bool> seen, std::optional<bool> flagged);

// Copies (or moves) `uids` to `target`; returns the new uids in `uids` order when the
// server reports them (COPYUID), else empty.
awaitable<result<std::vector<std::uint32_t>>> copy_messages(session::connection_context& ctx, std::string folder,
                                                            std::vector<std::uint32_t> uids, std::string target,
                                                            bool move);

// \Deleted + UID EXPUNGE of exactly `uids` (needs UIDPLUS).
awaitable<error> delete_messages(session::connection_context& ctx, std::string folder,
                                 std::vector<std::uint32_t> uids);

}  // namespace mailbroker::mailbox
