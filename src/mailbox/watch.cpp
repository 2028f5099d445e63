#include "mailbox/watch.hpp"

#include <algorithm>

#include "mailbox/pop3_mailbox.hpp"
#include "protocol/imap/client.hpp"
#include "protocol/imap/mailbox_codec.hpp"
#include "session/session_metrics.hpp"

namespace mailbroker::mailbox {

void folder_watch::arm(std::uint32_t uid_validity, std::uint32_t last_uid, std::string mode) {
  armed_ = true;
  uid_validity_ = uid_validity;
  last_uid_ = last_uid;
  watch_event ev;
  ev.type = watch_event::kind::watching;
  ev.uid_validity = uid_validity;
  ev.last_uid = last_uid;
  ev.mode = std::move(mode);
  session::metrics_hooks::watch_event(false);
  emit_(std::move(ev));
}

awaitable<error> folder_watch::poll(session::connection_context& ctx) {
  if (ctx.pop3 != nullptr) co_return co_await poll_pop3(ctx);
  co_return co_await poll_imap(ctx);
}

awaitable<error> folder_watch::poll_imap(session::connection_context& ctx) {
  if (auto e = co_await select_folder(ctx, folder_); !e.ok()) co_return e;
  if (!armed_ || ctx.uid_validity != uid_validity_) {
    // "UID *" is the highest uid in the folder (RFC 3501 6.4.8); nothing for an empty one.
    auto r = co_await ctx.imap->execute("UID SEARCH UID *", ctx.command_timeout);
    if (!r) co_return r.err();
    if (r->status != "OK") co_return error{errc::internal, "UID SEARCH failed: " + r->text};
    const auto uids = imap::parse_search_response(r->untagged);
    const auto highest = uids.empty() ? 0 : *std::max_element(uids.begin(), uids.end());
    const bool idle = imap::has_capability(ctx.imap->capabilities(), "IDLE");
    arm(ctx.uid_validity, highest, idle ? "IDLE" : "POLL");
    co_return error::none();
  }
  // NOOP first: it is the command every server must answer with news of the selected
  // mailbox (RFC 3501 6.1.2); some report new messages on nothing else.
  if (auto e = co_await ctx.imap->noop(ctx.command_timeout); !e.ok()) co_return e;
  const std::string command = "UID SEARCH UID " + std::to_string(last_uid_ + 1) + ":*";
  auto r = co_await ctx.imap->execute(command, ctx.command_timeout);
  if (!r) co_return r.err();
  if (r->status != "OK") co_return error{errc::internal, "UID SEARCH failed: " + r->text};
  std::vector<std::uint32_t> fresh;
  // "n:*" also matches the highest uid when it is below n: keep only real news.
  for (auto uid : imap::parse_search_response(r->untagged)) {
    if (uid > last_uid_) fresh.push_back(uid);
  }
  if (fresh.empty()) co_return error::none();
  std::sort(fresh.begin(), fresh.end());
  auto summaries = co_await fetch_summaries(ctx, fresh);
  if (!summaries) co_return summaries.err();
  for (auto& m : summaries.value()) {
    watch_event ev;
    ev.type = watch_event::kind::new_message;
    ev.uid_validity = uid_validity_;
    ev.message = std::move(m);
    session::metrics_hooks::watch_event(true);
    emit_(std::move(ev));
  }
  // Messages expunged between SEARCH and FETCH are skipped, not reported later.
  last_uid_ = fresh.back();
  co_return error::none();
}

awaitable<error> folder_watch::poll_pop3(session::connection_context& ctx) {
  if (auto e = pop3_ops::check_folder(folder_); !e.ok()) co_return e;
  auto entries = co_await pop3_ops::listing(ctx, ctx.spec.poll_interval);
  if (!entries) co_return entries.err();
  std::uint32_t highest = 0;
  for (const auto& e : entries.value()) highest = std::max(highest, e.uid);
  if (!armed_) {
    arm(ctx.maildrop->uid_validity(), highest, "POP3_POLL");
    co_return error::none();
  }
  for (const auto& entry : entries.value()) {
    if (entry.uid <= last_uid_) continue;
    auto m = co_await pop3_ops::summary(ctx, entry);
    if (!m) co_return m.err();
    watch_event ev;
    ev.type = watch_event::kind::new_message;
    ev.uid_validity = uid_validity_;
    ev.message = std::move(m.value());
    session::metrics_hooks::watch_event(true);
    emit_(std::move(ev));
  }
  last_uid_ = std::max(last_uid_, highest);
  co_return error::none();
}

}  // namespace mailbroker::mailbox
