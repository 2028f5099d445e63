#include "mailbox/imap_backend.hpp"

#include <algorithm>

#include "protocol/imap/client.hpp"
#include "protocol/imap/mailbox_codec.hpp"
#include "session/session_metrics.hpp"

namespace mailbroker::mailbox {

using session::connection_context;

awaitable<result<std::vector<std::uint32_t>>> imap_backend::select_uids(connection_context& ctx,
                                                                        const std::string& folder,
                                                                        const std::vector<message_ref>& refs,
                                                                        std::string_view field) const {
  auto uids = uids_of(refs, field, protocol_name());
  if (!uids) co_return uids.err();
  if (std::none_of(refs.begin(), refs.end(), [](const message_ref& r) { return r.uid_validity != 0; })) {
    co_return uids;  // nothing to check: the operation selects the folder itself
  }
  if (auto e = co_await select_folder(ctx, folder); !e.ok()) co_return e;
  for (std::size_t i = 0; i < refs.size(); ++i) {
    if (refs[i].uid_validity != 0 && refs[i].uid_validity != ctx.uid_validity) {
      co_return error{errc::failed_precondition,
                      std::string(field) + "[" + std::to_string(i) + "].uid_validity " +
                          std::to_string(refs[i].uid_validity) + " is not the folder's current UIDVALIDITY " +
                          std::to_string(ctx.uid_validity) +
                          ": the folder was recreated and the uid may name another message; list it again"};
    }
  }
  co_return uids;
}

awaitable<result<std::vector<folder>>> imap_backend::list_folders(connection_context& ctx, std::string pattern,
                                                                  std::string regex) const {
  co_return co_await mailbox::list_folders(ctx, std::move(pattern), std::move(regex));
}

awaitable<result<message_page>> imap_backend::list_messages(connection_context& ctx, list_query query) const {
  co_return co_await mailbox::list_messages(ctx, std::move(query));
}

awaitable<result<chunk>> imap_backend::read_chunk(connection_context& ctx, std::string folder, message_ref ref,
                                                  std::uint64_t offset, std::uint64_t max_bytes) const {
  std::vector<message_ref> one{ref};
  auto uids = co_await select_uids(ctx, folder, one, "ref");
  if (!uids) co_return uids.err();
  co_return co_await fetch_chunk(ctx, std::move(folder), uids->front(), offset, max_bytes);
}

awaitable<result<std::string>> imap_backend::read_whole(connection_context& ctx, std::string folder, message_ref ref,
                                                        std::uint64_t max_bytes) const {
  std::string data;
  for (;;) {
    auto c = co_await read_chunk(ctx, folder, ref, data.size(), max_chunk_bytes);
    if (!c) co_return c.err();
    if (c->total_size > max_bytes) {
      co_return error{errc::failed_precondition, "the message is " + std::to_string(c->total_size) +
                                                     " bytes; at most " + std::to_string(max_bytes) + " fit here"};
    }
    data += c->data;
    if (c->data.empty() || data.size() >= c->total_size) co_return data;
  }
}

awaitable<error> imap_backend::set_flags(connection_context& ctx, std::string folder, std::vector<message_ref> refs,
                                         std::optional<bool> seen, std::optional<bool> flagged) const {
  auto uids = co_await select_uids(ctx, folder, refs, "refs");
  if (!uids) co_return uids.err();
  co_return co_await mailbox::set_flags(ctx, std::move(folder), std::move(uids.value()), seen, flagged);
}

awaitable<result<std::vector<message_ref>>> imap_backend::copy_messages(connection_context& ctx, std::string folder,
                                                                        std::vector<message_ref> refs,
                                                                        std::string target, bool move) const {
  auto uids = co_await select_uids(ctx, folder, refs, "refs");
  if (!uids) co_return uids.err();
  auto moved = co_await mailbox::copy_messages(ctx, std::move(folder), std::move(uids.value()), std::move(target), move);
  if (!moved) co_return moved.err();
  co_return refs_of(moved.value());  // the target's UIDVALIDITY is not reported by COPYUID here
}

awaitable<error> imap_backend::delete_messages(connection_context& ctx, std::string folder,
                                               std::vector<message_ref> refs, bool /*permanent: always*/) const {
  auto uids = co_await select_uids(ctx, folder, refs, "refs");
  if (!uids) co_return uids.err();
  co_return co_await mailbox::delete_messages(ctx, std::move(folder), std::move(uids.value()));
}

awaitable<result<std::uint32_t>> imap_backend::open_folder(connection_context& ctx, std::string folder) const {
  if (auto e = co_await select_folder(ctx, folder); !e.ok()) co_return e;
  co_return ctx.uid_validity;
}

awaitable<result<std::vector<message_ref>>> imap_backend::search(connection_context& ctx, std::string folder,
                                                                 imap::search_criteria criteria) const {
  auto uids = co_await search_uids(ctx, folder, criteria);
  if (!uids) co_return uids.err();
  co_return refs_of(uids.value(), ctx.uid_validity);
}

awaitable<result<std::vector<message_summary>>> imap_backend::summaries(connection_context& ctx, std::string folder,
                                                                        std::vector<message_ref> refs) const {
  auto uids = uids_of(refs, "refs", protocol_name());
  if (!uids) co_return uids.err();
  if (auto e = co_await select_folder(ctx, folder); !e.ok()) co_return e;
  co_return co_await fetch_summaries(ctx, std::move(uids.value()));
}

awaitable<error> imap_backend::poll_watch(connection_context& ctx, std::string folder, watch_cursor& cursor,
                                          const std::function<void(watch_event)>& emit) const {
  if (auto e = co_await select_folder(ctx, folder); !e.ok()) co_return e;
  if (!cursor.armed || ctx.uid_validity != cursor.uid_validity) {
    // "UID *" is the highest uid in the folder (RFC 3501 6.4.8); nothing for an empty one.
    auto r = co_await ctx.imap->execute("UID SEARCH UID *", ctx.command_timeout);
    if (!r) co_return r.err();
    if (r->status != "OK") co_return error{errc::internal, "UID SEARCH failed: " + r->text};
    const auto uids = imap::parse_search_response(r->untagged);
    cursor.armed = true;
    cursor.uid_validity = ctx.uid_validity;
    cursor.last_uid = uids.empty() ? 0 : *std::max_element(uids.begin(), uids.end());
    watch_event ev;
    ev.type = watch_event::kind::watching;
    ev.uid_validity = cursor.uid_validity;
    ev.last_uid = cursor.last_uid;
    ev.mode = imap::has_capability(ctx.imap->capabilities(), "IDLE") ? "IDLE" : "POLL";
    emit(std::move(ev));
    co_return error::none();
  }
  // NOOP first: it is the command every server must answer with news of the selected
  // mailbox (RFC 3501 6.1.2); some report new messages on nothing else.
  if (auto e = co_await ctx.imap->noop(ctx.command_timeout); !e.ok()) co_return e;
  const std::string command = "UID SEARCH UID " + std::to_string(cursor.last_uid + 1) + ":*";
  auto r = co_await ctx.imap->execute(command, ctx.command_timeout);
  if (!r) co_return r.err();
  if (r->status != "OK") co_return error{errc::internal, "UID SEARCH failed: " + r->text};
  std::vector<std::uint32_t> fresh;
  // "n:*" also matches the highest uid when it is below n: keep only real news.
  for (auto uid : imap::parse_search_response(r->untagged)) {
    if (uid > cursor.last_uid) fresh.push_back(uid);
  }
  if (fresh.empty()) co_return error::none();
  std::sort(fresh.begin(), fresh.end());
  auto summaries = co_await fetch_summaries(ctx, fresh);
  if (!summaries) co_return summaries.err();
  for (auto& m : summaries.value()) {
    watch_event ev;
    ev.type = watch_event::kind::new_message;
    ev.uid_validity = cursor.uid_validity;
    ev.message = std::move(m);
    emit(std::move(ev));
  }
  // Messages expunged between SEARCH and FETCH are skipped, not reported later.
  cursor.last_uid = fresh.back();
  co_return error::none();
}

}  // namespace mailbroker::mailbox
