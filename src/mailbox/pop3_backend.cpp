#include "mailbox/pop3_backend.hpp"

#include <algorithm>
#include <regex>

#include "mailbox/pop3_mailbox.hpp"

namespace mailbroker::mailbox {

using session::connection_context;

error pop3_backend::unsupported(std::string_view call) const { return pop3_ops::unsupported(std::string(call)); }

awaitable<result<std::vector<folder>>> pop3_backend::list_folders(connection_context&, std::string pattern,
                                                                  std::string regex) const {
  // One folder; the pattern and regex still apply.
  std::regex re;
  if (!regex.empty()) {
    try {
      re = std::regex(regex, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      co_return error{errc::invalid_argument, std::string("regex: ") + e.what()};
    }
  }
  std::vector<folder> out;
  if ((pattern.empty() || pattern == "*" || pattern == "%" || pattern == "INBOX") &&
      (regex.empty() || std::regex_search("INBOX", re))) {
    out.push_back({"INBOX", "", {}});
  }
  co_return out;
}

awaitable<result<message_page>> pop3_backend::list_messages(connection_context& ctx, list_query query) const {
  co_return co_await pop3_ops::list_messages(ctx, std::move(query));
}

awaitable<result<std::string>> pop3_backend::read_whole(connection_context& ctx, std::string folder, message_ref ref,
                                                        std::uint64_t max_bytes) const {
  if (auto e = pop3_ops::check_folder(folder); !e.ok()) co_return e;
  std::vector<message_ref> one{ref};
  auto uids = uids_of(one, "ref", protocol_name());
  if (!uids) co_return uids.err();
  co_return co_await pop3_ops::retrieve(ctx, uids->front(), max_bytes);
}

awaitable<error> pop3_backend::set_flags(connection_context&, std::string, std::vector<message_ref>,
                                         std::optional<bool>, std::optional<bool>) const {
  co_return unsupported("SetFlags");
}

awaitable<result<std::vector<message_ref>>> pop3_backend::copy_messages(connection_context&, std::string,
                                                                        std::vector<message_ref>, std::string,
                                                                        bool move) const {
  co_return unsupported(move ? "MoveMessages" : "CopyMessages");
}

awaitable<error> pop3_backend::delete_messages(connection_context& ctx, std::string folder,
                                               std::vector<message_ref> refs, bool /*permanent: always*/) const {
  if (auto e = pop3_ops::check_folder(folder); !e.ok()) co_return e;
  if (refs.empty() || refs.size() > max_uids_per_call) {
    co_return error{errc::invalid_argument, "uids: 1.." + std::to_string(max_uids_per_call) + " uids"};
  }
  auto uids = uids_of(refs, "refs", protocol_name());
  if (!uids) co_return uids.err();
  co_return co_await pop3_ops::delete_messages(ctx, std::move(uids.value()));
}

awaitable<result<std::uint32_t>> pop3_backend::open_folder(connection_context& ctx, std::string folder) const {
  if (auto e = pop3_ops::check_folder(folder); !e.ok()) co_return e;
  co_return ctx.maildrop->uid_validity();
}

awaitable<result<std::vector<message_ref>>> pop3_backend::search(connection_context& ctx, std::string folder,
                                                                 imap::search_criteria criteria) const {
  if (auto e = pop3_ops::check_folder(folder); !e.ok()) co_return e;
  auto uids = co_await pop3_ops::search_uids(ctx, std::move(criteria));
  if (!uids) co_return uids.err();
  co_return refs_of(uids.value(), ctx.maildrop->uid_validity());
}

awaitable<result<std::vector<message_summary>>> pop3_backend::summaries(connection_context& ctx, std::string folder,
                                                                        std::vector<message_ref> refs) const {
  if (auto e = pop3_ops::check_folder(folder); !e.ok()) co_return e;
  auto uids = uids_of(refs, "refs", protocol_name());
  if (!uids) co_return uids.err();
  std::vector<message_summary> out;
  for (auto uid : uids.value()) {
    const auto* entry = ctx.maildrop->find(uid);
    if (entry == nullptr) continue;
    auto m = co_await pop3_ops::summary(ctx, *entry);
    if (!m) co_return m.err();
    out.push_back(std::move(m.value()));
  }
  co_return out;
}

awaitable<error> pop3_backend::poll_watch(connection_context& ctx, std::string folder, watch_cursor& cursor,
                                          const std::function<void(watch_event)>& emit) const {
  if (auto e = pop3_ops::check_folder(folder); !e.ok()) co_return e;
  auto entries = co_await pop3_ops::listing(ctx, ctx.spec.poll_interval);
  if (!entries) co_return entries.err();
  std::uint32_t highest = 0;
  for (const auto& e : entries.value()) highest = std::max(highest, e.uid);
  if (!cursor.armed) {
    cursor.armed = true;
    cursor.uid_validity = ctx.maildrop->uid_validity();
    cursor.last_uid = highest;
    watch_event ev;
    ev.type = watch_event::kind::watching;
    ev.uid_validity = cursor.uid_validity;
    ev.last_uid = highest;
    ev.mode = "POP3_POLL";
    emit(std::move(ev));
    co_return error::none();
  }
  for (const auto& entry : entries.value()) {
    if (entry.uid <= cursor.last_uid) continue;
    auto m = co_await pop3_ops::summary(ctx, entry);
    if (!m) co_return m.err();
    watch_event ev;
    ev.type = watch_event::kind::new_message;
    ev.uid_validity = cursor.uid_validity;
    ev.message = std::move(m.value());
    emit(std::move(ev));
  }
  cursor.last_uid = std::max(cursor.last_uid, highest);
  co_return error::none();
}

}  // namespace mailbroker::mailbox
