#include "mailbox/claims.hpp"

#include <algorithm>

#include "mailbox/pop3_mailbox.hpp"

namespace mailbroker::mailbox {
namespace {

using clock = session::claim_table::clock;

std::string folder_or_inbox(const std::string& folder) { return folder.empty() ? "INBOX" : folder; }

// SELECTs the folder (IMAP) or checks it is INBOX (POP3); returns its uid validity.
awaitable<result<std::uint32_t>> open_folder(session::connection_context& ctx, const std::string& folder) {
  if (ctx.pop3 != nullptr) {
    if (auto e = pop3_ops::check_folder(folder); !e.ok()) co_return e;
    co_return ctx.maildrop->uid_validity();
  }
  if (auto e = co_await select_folder(ctx, folder); !e.ok()) co_return e;
  co_return ctx.uid_validity;
}

awaitable<result<std::vector<message_summary>>> summaries_of(session::connection_context& ctx,
                                                             std::vector<std::uint32_t> uids) {
  if (ctx.pop3 == nullptr) co_return co_await fetch_summaries(ctx, std::move(uids));
  std::vector<message_summary> out;
  for (auto uid : uids) {
    const auto* entry = ctx.maildrop->find(uid);
    if (entry == nullptr) continue;
    auto m = co_await pop3_ops::summary(ctx, *entry);
    if (!m) co_return m.err();
    out.push_back(std::move(m.value()));
  }
  co_return out;
}

}  // namespace

awaitable<result<claim_batch>> claim_messages(session::connection_context& ctx, std::string lease, claim_query query) {
  if (query.max == 0) query.max = 10;
  if (query.max > max_claim) co_return error{errc::invalid_argument, "max: at most " + std::to_string(max_claim)};
  if (query.ttl.count() == 0) query.ttl = std::chrono::seconds(300);
  if (query.ttl > max_claim_ttl) {
    co_return error{errc::invalid_argument, "claim_ttl_seconds: at most " + std::to_string(max_claim_ttl.count())};
  }
  query.folder = folder_or_inbox(query.folder);
  query.criteria.after_uid = 0;
  auto validity = co_await open_folder(ctx, query.folder);
  if (!validity) co_return validity.err();
  result<std::vector<std::uint32_t>> found = std::vector<std::uint32_t>{};
  if (ctx.pop3 != nullptr) {
    found = co_await pop3_ops::search_uids(ctx, query.criteria);
  } else {
    found = co_await search_uids(ctx, query.folder, query.criteria);
  }
  if (!found) co_return found.err();
  const auto& uids = found.value();
  const std::uint32_t uid_validity = validity.value();

  const auto now = clock::now();
  ctx.claims.purge(now, ctx.lease_alive);
  std::vector<std::uint32_t> chosen;
  for (auto uid : uids) {
    if (chosen.size() >= query.max) break;
    const session::claim_key key{query.folder, uid_validity, uid};
    if (ctx.claims.claimable(key, now, ctx.lease_alive)) chosen.push_back(uid);
  }
  claim_batch batch;
  batch.uid_validity = uid_validity;
  if (chosen.empty()) co_return batch;
  auto summaries = co_await summaries_of(ctx, chosen);
  if (!summaries) co_return summaries.err();
  // Claimed only now, with the summaries in hand: a failed fetch leaves nothing held.
  const auto expires = clock::now() + query.ttl;
  const auto expires_wall = std::chrono::system_clock::now() + query.ttl;
  for (auto& s : summaries.value()) {
    const session::claim_key key{query.folder, uid_validity, s.uid};
    if (!ctx.claims.claim(key, lease, expires)) break;
    batch.messages.push_back({std::move(s), expires_wall});
  }
  co_return batch;
}

awaitable<error> ack_message(session::connection_context& ctx, std::string lease, std::string folder,
                             std::uint32_t uid, ack_action action, std::string target_folder) {
  folder = folder_or_inbox(folder);
  if (uid == 0) co_return error{errc::invalid_argument, "uid is required"};
  if (action == ack_action::move && target_folder.empty()) {
    co_return error{errc::invalid_argument, "target_folder is required for ACK_ACTION_MOVE"};
  }
  if (ctx.pop3 != nullptr && (action == ack_action::mark_read || action == ack_action::move)) {
    co_return pop3_ops::unsupported(action == ack_action::move ? "ACK_ACTION_MOVE" : "ACK_ACTION_MARK_READ");
  }
  auto validity = co_await open_folder(ctx, folder);
  if (!validity) co_return validity.err();
  const session::claim_key key{folder, validity.value(), uid};
  switch (ctx.claims.check(key, lease, clock::now())) {
    case session::claim_table::holder::this_lease: break;
    case session::claim_table::holder::expired:
      co_return error{errc::failed_precondition,
                      "uid " + std::to_string(uid) + ": the claim expired; the message may be with another bot now "
                                                     "(nothing was done: claim it again or use a longer claim_ttl_seconds)"};
    case session::claim_table::holder::other_lease:
    case session::claim_table::holder::nobody:
      co_return error{errc::failed_precondition, "uid " + std::to_string(uid) + " in '" + folder +
                                                     "' is not claimed by this lease (ClaimMessages first)"};
  }
  error e = error::none();
  std::vector<std::uint32_t> one{uid};  // built before co_await (g++ 12 and braced temporaries)
  switch (action) {
    case ack_action::mark_read: e = co_await set_flags(ctx, folder, one, true, std::nullopt); break;
    case ack_action::move: {
      auto moved = co_await copy_messages(ctx, folder, one, target_folder, true);
      if (!moved) e = moved.err();
      break;
    }
    case ack_action::remove:
      if (ctx.pop3 != nullptr) {
        e = co_await pop3_ops::delete_messages(ctx, one);
      } else {
        e = co_await delete_messages(ctx, folder, one);
      }
      break;
    case ack_action::none: break;
  }
  if (!e.ok()) co_return e;
  ctx.claims.acked(key);
  co_return error::none();
}

awaitable<result<std::uint32_t>> release_messages(session::connection_context& ctx, std::string lease,
                                                  std::string folder, std::vector<std::uint32_t> uids) {
  folder = folder_or_inbox(folder);
  auto validity = co_await open_folder(ctx, folder);
  if (!validity) co_return validity.err();
  std::vector<session::claim_key> keys;
  for (auto uid : uids) keys.push_back({folder, validity.value(), uid});
  co_return static_cast<std::uint32_t>(ctx.claims.release(lease, keys));
}

}  // namespace mailbroker::mailbox
