#include "mailbox/claims.hpp"

#include <algorithm>

namespace mailbroker::mailbox {
namespace {

using clock = session::claim_table::clock;

std::string folder_or_inbox(const std::string& folder) { return folder.empty() ? "INBOX" : folder; }

session::claim_key key_of(const std::string& folder, std::uint32_t uid_validity, const message_ref& ref) {
  if (ref.is_item()) return {folder, 0, 0, ref.item_id};
  return {folder, uid_validity, ref.uid, {}};
}

std::string name_of(const message_ref& ref) {
  return ref.is_item() ? "item " + ref.item_id : "uid " + std::to_string(ref.uid);
}

}  // namespace

awaitable<result<claim_batch>> claim_messages(session::connection_context& ctx, std::string lease, claim_query query) {
  if (query.max == 0) query.max = 10;
  if (query.max > max_claim) co_return error{errc::invalid_argument, "max: at most " + std::to_string(max_claim)};
  if (query.ttl.count() == 0) query.ttl = std::chrono::seconds(300);
  if (query.ttl > max_claim_ttl) {
    co_return error{errc::invalid_argument, "claim_ttl_seconds: at most " + std::to_string(max_claim_ttl.count())};
  }
  const backend& mailbox = backend_of(ctx);
  query.folder = folder_or_inbox(query.folder);
  query.criteria.after_uid = 0;
  auto validity = co_await mailbox.open_folder(ctx, query.folder);
  if (!validity) co_return validity.err();
  auto found = co_await mailbox.search(ctx, query.folder, query.criteria);
  if (!found) co_return found.err();
  const std::uint32_t uid_validity = validity.value();

  const auto now = clock::now();
  ctx.claims.purge(now, ctx.lease_alive);
  std::vector<message_ref> chosen;
  for (const auto& ref : found.value()) {
    if (chosen.size() >= query.max) break;
    if (ctx.claims.claimable(key_of(query.folder, uid_validity, ref), now, ctx.lease_alive)) chosen.push_back(ref);
  }
  claim_batch batch;
  batch.uid_validity = uid_validity;
  if (chosen.empty()) co_return batch;
  auto summaries = co_await mailbox.summaries(ctx, query.folder, chosen);
  if (!summaries) co_return summaries.err();
  // Claimed only now, with the summaries in hand: a failed fetch leaves nothing held.
  const auto expires = clock::now() + query.ttl;
  const auto expires_wall = std::chrono::system_clock::now() + query.ttl;
  for (auto& s : summaries.value()) {
    const message_ref ref{s.uid, uid_validity, s.item_id, s.change_key};
    if (!ctx.claims.claim(key_of(query.folder, uid_validity, ref), lease, expires)) break;
    batch.messages.push_back({std::move(s), expires_wall});
  }
  co_return batch;
}

awaitable<error> ack_message(session::connection_context& ctx, std::string lease, std::string folder,
                             message_ref ref, ack_action action, std::string target_folder) {
  folder = folder_or_inbox(folder);
  if (ref.empty()) co_return error{errc::invalid_argument, "uid or ref is required"};
  if (action == ack_action::move && target_folder.empty()) {
    co_return error{errc::invalid_argument, "target_folder is required for ACK_ACTION_MOVE"};
  }
  const backend& mailbox = backend_of(ctx);
  if ((action == ack_action::mark_read && !mailbox.has_flags()) || (action == ack_action::move && !mailbox.has_folders())) {
    co_return mailbox.unsupported(action == ack_action::move ? "ACK_ACTION_MOVE" : "ACK_ACTION_MARK_READ");
  }
  auto validity = co_await mailbox.open_folder(ctx, folder);
  if (!validity) co_return validity.err();
  const auto key = key_of(folder, validity.value(), ref);
  switch (ctx.claims.check(key, lease, clock::now())) {
    case session::claim_table::holder::this_lease: break;
    case session::claim_table::holder::expired:
      co_return error{errc::failed_precondition,
                      name_of(ref) + ": the claim expired; the message may be with another bot now "
                                     "(nothing was done: claim it again or use a longer claim_ttl_seconds)"};
    case session::claim_table::holder::other_lease:
    case session::claim_table::holder::nobody:
      co_return error{errc::failed_precondition,
                      name_of(ref) + " in '" + folder + "' is not claimed by this lease (ClaimMessages first)"};
  }
  error e = error::none();
  std::vector<message_ref> one{ref};  // built before co_await (g++ 12 and braced temporaries)
  switch (action) {
    case ack_action::mark_read:
      e = co_await mailbox.set_flags(ctx, folder, one, true, std::nullopt);
      break;
    case ack_action::move: {
      auto moved = co_await mailbox.copy_messages(ctx, folder, one, target_folder, true);
      if (!moved) e = moved.err();
      break;
    }
    case ack_action::remove: e = co_await mailbox.delete_messages(ctx, folder, one, false); break;
    case ack_action::none: break;
  }
  if (e.code == errc::unimplemented) {
    // Name the action the bot asked for rather than the call behind it.
    const char* what = action == ack_action::move ? "ACK_ACTION_MOVE"
                       : action == ack_action::mark_read ? "ACK_ACTION_MARK_READ" : "ACK_ACTION_DELETE";
    co_return error{errc::unimplemented, std::string(what) + ": " + e.message};
  }
  if (!e.ok()) co_return e;
  ctx.claims.acked(key);
  co_return error::none();
}

awaitable<result<std::uint32_t>> release_messages(session::connection_context& ctx, std::string lease,
                                                  std::string folder, std::vector<message_ref> refs) {
  folder = folder_or_inbox(folder);
  auto validity = co_await backend_of(ctx).open_folder(ctx, folder);
  if (!validity) co_return validity.err();
  std::vector<session::claim_key> keys;
  for (const auto& ref : refs) keys.push_back(key_of(folder, validity.value(), ref));
  co_return static_cast<std::uint32_t>(ctx.claims.release(lease, keys));
}

}  // namespace mailbroker::mailbox
