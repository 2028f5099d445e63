#include "mailbox/ews_backend.hpp"

#include <charconv>
#include <chrono>
#include <optional>
#include <set>

#include <spdlog/spdlog.h>

#include "mailbox/ews_bodies.hpp"
#include "mailbox/ews_folders.hpp"
#include "mailbox/folder_paths.hpp"
#include "mailbox/shared_listing.hpp"
#include "protocol/ews/client.hpp"

namespace mailbroker::mailbox {
namespace {

using session::connection_context;

// Item refs of `refs`: invalid_argument for a uid-named one.
result<std::vector<ews::item_ref>> items_of(const std::vector<message_ref>& refs, std::string_view field) {
  std::vector<ews::item_ref> out;
  out.reserve(refs.size());
  for (std::size_t i = 0; i < refs.size(); ++i) {
    if (!refs[i].is_item()) {
      return error{errc::invalid_argument, std::string(field) + "[" + std::to_string(i) +
                                               "]: EWS sessions name messages by item_id (MessageRef.item_id from "
                                               "ListMessages), not by uid"};
    }
    out.push_back({refs[i].item_id, refs[i].change_key});
  }
  if (out.empty() || out.size() > max_uids_per_call) {
    return error{errc::invalid_argument, std::string(field) + ": 1.." + std::to_string(max_uids_per_call) + " messages"};
  }
  return out;
}

// The reply's first failing response message, as the call's error.
error first_failure(const ews::soap_reply& reply, ews::server_version version) {
  for (const auto& m : reply.messages) {
    if (auto e = ews::error_of(m, version); !e.ok()) return e;
  }
  return error::none();
}

// Per-item outcomes → the call's error: not_found naming the unknown items, else the first other failure.
error per_item(const std::vector<error>& statuses, const std::vector<ews::item_ref>& items, std::string_view done) {
  std::string missing;
  std::size_t failed = 0;
  error other = error::none();
  for (std::size_t i = 0; i < statuses.size(); ++i) {
    if (statuses[i].ok()) continue;
    ++failed;
    if (statuses[i].code == errc::not_found && i < items.size()) {
      if (!missing.empty()) missing += ", ";
      missing += items[i].id;
    } else if (other.ok()) {
      other = statuses[i];
    }
  }
  if (!other.ok()) return other;
  if (failed == 0) return error::none();
  return {errc::not_found, "items " + missing + " do not exist (moved or deleted?); the other " +
                               std::to_string(statuses.size() - failed) + " were " + std::string(done)};
}

std::string folder_or_inbox(const std::string& f) { return f.empty() ? "INBOX" : f; }

ews::item_query query_of(const imap::search_criteria& c) {
  ews::item_query q;
  if (c.read == imap::search_criteria::read_state::unread) q.is_read = false;
  if (c.read == imap::search_criteria::read_state::read) q.is_read = true;
  q.from_contains = c.from_contains;
  q.subject_contains = c.subject_contains;
  if (c.since) q.since = std::chrono::system_clock::time_point(*c.since);
  if (c.before) q.before = std::chrono::system_clock::time_point(*c.before);
  return q;
}

message_ref ref_of(const message_summary& m) { return {0, 0, m.item_id, m.change_key}; }

std::vector<std::string> ids_of(const std::vector<ews::item_ref>& items) {
  std::vector<std::string> out;
  for (const auto& i : items) out.push_back(i.id);
  return out;
}

// Everything that makes two EWS list calls the same question (the coalescing key in the
// message cache and ctx.lists_in_flight); '\x01' first, as no IMAP wire name starts.
std::string list_key(const std::string& folder, const list_query& q) {
  const auto& c = q.criteria;
  auto day = [](const std::optional<std::chrono::sys_days>& d) {
    return d ? std::to_string(d->time_since_epoch().count()) : std::string("-");
  };
  std::string key = "\x01" "ews-find";
  for (const std::string& part :
       {folder, std::to_string(static_cast<int>(c.read)), c.from_contains, c.subject_contains, day(c.since),
        day(c.before), std::to_string(q.limit), std::to_string(static_cast<int>(q.order)), q.page_token}) {
    key += '\0';
    key += part;
  }
  return key;
}

}  // namespace

awaitable<result<std::vector<folder>>> ews_backend::list_folders(connection_context& ctx, std::string pattern,
                                                                 std::string regex) const {
  if (auto checked = folder_paths::filter({}, pattern, regex); !checked) co_return checked.err();
  auto tree = co_await ews_folders::tree(ctx, true);
  if (!tree) co_return tree.err();
  std::vector<folder_paths::named_folder> named;
  for (const auto& f : tree.value()) named.push_back({f.path, f.has_children});
  co_return folder_paths::filter(named, std::move(pattern), regex);
}

awaitable<result<message_page>> ews_backend::list_messages(connection_context& ctx, list_query query) const {
  if (query.limit == 0) query.limit = 100;
  if (query.limit > max_list_limit) co_return error{errc::invalid_argument, "limit: at most " + std::to_string(max_list_limit)};
  auto q = query_of(query.criteria);
  q.newest_first = query.order == list_order::newest_first;
  q.max = query.limit;
  if (!query.page_token.empty()) {
    const auto* end = query.page_token.data() + query.page_token.size();
    auto [p, ec] = std::from_chars(query.page_token.data(), end, q.offset);
    if (ec != std::errc() || p != end) {
      co_return error{errc::invalid_argument, "page_token: pass next_page_token of the previous reply unchanged"};
    }
  }
  // Identical calls share one FindItem (shared_listing.hpp).
  const std::string key = list_key(folder_or_inbox(query.folder), query);
  // In a variable: a lambda temporary inside a co_await operand is miscompiled by g++ 12 (STYLE.md).
  std::function<awaitable<result<message_page>>()> fetch = [&ctx, &query, q]() -> awaitable<result<message_page>> {
    auto where = co_await ews_folders::resolve(ctx, folder_or_inbox(query.folder), "folder");
    if (!where) co_return where.err();
    auto reply = co_await ctx.ews->call(ews::find_items(ctx.ews->version(), where.value(), q));
    if (!reply) co_return reply.err();
    if (auto e = first_failure(reply.value(), ctx.ews->version()); !e.ok()) co_return e;
    auto page = ews::parse_find_items(reply.value());
    if (!page) co_return page.err();
    message_page out;
    out.messages = std::move(page->items);
    out.total_matching = page->total_items_in_view;
    if (!page->includes_last_item && page->next_offset > q.offset) out.next_page_token = std::to_string(page->next_offset);
    // Sizes tell a later body fetch which wanted bodies are small enough to bring along.
    for (const auto& m : out.messages) ctx.cache.put_item_size(m.item_id, m.change_key, m.size);
    co_return out;
  };
  co_return co_await shared_listing(ctx, key, query.arrived, std::move(fetch));
}

awaitable<result<std::string>> ews_backend::read_whole(connection_context& ctx, std::string, message_ref ref,
                                                       std::uint64_t max_bytes) const {
  std::vector<message_ref> one{ref};
  auto items = items_of(one, "ref");
  if (!items) co_return items.err();
  co_return co_await ews_bodies::read(ctx, std::move(ref), max_bytes);
}

awaitable<error> ews_backend::set_flags(connection_context& ctx, std::string, std::vector<message_ref> refs,
                                        std::optional<bool> seen, std::optional<bool> flagged) const {
  auto items = items_of(refs, "refs");
  if (!items) co_return items.err();
  if (!seen && !flagged) co_return error{errc::invalid_argument, "seen or flagged must be set"};
  auto reply = co_await ctx.ews->call(ews::set_read_flag(ctx.ews->version(), items.value(), seen, flagged));
  // The items got new change keys: their old versions' bodies are dead weight. Forgotten
  // once the call is over, whatever its outcome, so no read that overlapped it refills them.
  ctx.cache.forget_items(ids_of(items.value()));
  if (!reply) co_return reply.err();
  auto statuses = ews::parse_statuses(reply.value());
  if (!statuses) co_return statuses.err();
  co_return per_item(statuses.value(), items.value(), "changed");
}

awaitable<result<std::vector<message_ref>>> ews_backend::copy_messages(connection_context& ctx, std::string,
                                                                       std::vector<message_ref> refs,
                                                                       std::string target, bool move) const {
  auto items = items_of(refs, "refs");
  if (!items) co_return items.err();
  if (target.empty()) co_return error{errc::invalid_argument, "target_folder is required"};
  auto to = co_await ews_folders::resolve(ctx, target, "target_folder");
  if (!to) co_return to.err();
  const auto version = ctx.ews->version();
  // Built in a variable: a conditional expression inside a co_await operand is miscompiled by
  // g++ 12 (its temporary destroyed twice: free() of an invalid pointer; STYLE.md).
  auto body = move ? ews::move_items(version, items.value(), to.value())
                   : ews::copy_items(version, items.value(), to.value());
  auto reply = co_await ctx.ews->call(std::move(body));
  if (move) ctx.cache.forget_items(ids_of(items.value()));  // a moved item gets a new id
  ctx.cache.forget_lists();
  if (!reply) co_return reply.err();
  auto ids = ews::parse_item_ids(reply.value());
  if (!ids) co_return ids.err();
  std::vector<error> statuses;
  std::vector<message_ref> out;
  for (const auto& r : ids.value()) {
    statuses.push_back(r.status);
    if (r.status.ok() && !r.ref.id.empty()) out.push_back({0, 0, r.ref.id, r.ref.change_key});
  }
  if (auto e = per_item(statuses, items.value(), move ? "moved" : "copied"); !e.ok()) co_return e;
  if (out.size() != items->size()) out.clear();  // new ids only when the server gave every one
  co_return out;
}

awaitable<error> ews_backend::delete_messages(connection_context& ctx, std::string, std::vector<message_ref> refs,
                                              bool permanent) const {
  auto items = items_of(refs, "refs");
  if (!items) co_return items.err();
  const auto mode = permanent ? ews::delete_mode::hard : ews::delete_mode::move_to_deleted_items;
  auto reply = co_await ctx.ews->call(ews::delete_items(ctx.ews->version(), items.value(), mode));
  ctx.cache.forget_items(ids_of(items.value()));
  if (!reply) co_return reply.err();
  auto statuses = ews::parse_statuses(reply.value());
  if (!statuses) co_return statuses.err();
  co_return per_item(statuses.value(), items.value(), "deleted");
}

awaitable<result<std::uint32_t>> ews_backend::open_folder(connection_context& ctx, std::string folder) const {
  auto where = co_await ews_folders::resolve(ctx, folder_or_inbox(folder), "folder");
  if (!where) co_return where.err();
  co_return std::uint32_t{0};  // item ids need no folder identity
}

awaitable<result<std::vector<message_ref>>> ews_backend::search(connection_context& ctx, std::string folder,
                                                                imap::search_criteria criteria) const {
  auto where = co_await ews_folders::resolve(ctx, folder_or_inbox(folder), "folder");
  if (!where) co_return where.err();
  auto q = query_of(criteria);
  q.max = ews::max_page_size;  // the oldest 1000 matches: enough for a claim batch of 100
  auto reply = co_await ctx.ews->call(ews::find_items(ctx.ews->version(), where.value(), q));
  if (!reply) co_return reply.err();
  if (auto e = first_failure(reply.value(), ctx.ews->version()); !e.ok()) co_return e;
  auto page = ews::parse_find_items(reply.value());
  if (!page) co_return page.err();
  std::vector<message_ref> out;
  for (const auto& m : page->items) out.push_back(ref_of(m));
  co_return out;
}

awaitable<result<std::vector<message_summary>>> ews_backend::summaries(connection_context& ctx, std::string,
                                                                       std::vector<message_ref> refs) const {
  if (refs.empty()) co_return std::vector<message_summary>{};
  auto items = items_of(refs, "refs");
  if (!items) co_return items.err();
  auto reply = co_await ctx.ews->call(ews::get_items(ctx.ews->version(), items.value(), false, true));
  if (!reply) co_return reply.err();
  auto fetched = ews::parse_items(reply.value());
  if (!fetched) co_return fetched.err();
  std::vector<message_summary> out;
  for (auto& f : fetched.value()) {
    if (f.status.code == errc::not_found) continue;  // gone meanwhile: left out
    if (!f.status.ok()) co_return f.status;
    out.push_back(std::move(f.summary));
  }
  co_return out;
}

namespace {

// After a failed streaming Subscribe, the watch goes by its poll interval and tries again
// no sooner than this (a server that refuses it costs one request per minute, not per poll).
constexpr std::chrono::seconds streaming_retry_delay{60};

// A watch's subscriptions on the server, unsubscribed when the watch ends (the cursor
// goes), best effort: only while the client that registered the streaming one is alive
// (the session's connection is up), over a connection of their own (client::send_detached).
class ews_watch_subscriptions final : public watch_resources {
 public:
  ~ews_watch_subscriptions() override {
    auto registered = registry_.lock();
    if (!registered) return;  // the client is gone: nothing to send with (the server expires them)
    if (!streaming_id_.empty()) registered->erase(streaming_id_);
    if (!client_->is_open()) return;  // lost or closed: the session reconnects, the server expires them
    std::vector<std::string> bodies;
    for (const auto* id : {&pull_id_, &streaming_id_}) {
      if (id->empty()) continue;
      if (auto body = ews::unsubscribe(client_->version(), *id)) bodies.push_back(std::move(body.value()));
    }
    client_->send_detached(std::move(bodies));
  }

  // The client of this poll (a reconnect makes a new one) and the cursor's ids now.
  void track(ews::client& client, const watch_cursor& cursor) {
    if (registry_.lock() != client.streaming_subscriptions()) {
      registry_ = client.streaming_subscriptions();
      client_ = &client;  // valid while registry_ can be locked: the client owns the set alone
    }
    pull_id_ = cursor.subscription_id;
    streaming_id_ = cursor.streaming_id;
  }
  // The set of the client that registered streaming_id_ (expired: another client's poll).
  std::shared_ptr<std::set<std::string>> registry() const { return registry_.lock(); }

  std::chrono::steady_clock::time_point retry_at{};

 private:
  std::weak_ptr<std::set<std::string>> registry_;
  ews::client* client_ = nullptr;
  std::string pull_id_, streaming_id_;
};

ews_watch_subscriptions& subscriptions_of(watch_cursor& cursor) {
  auto* mine = dynamic_cast<ews_watch_subscriptions*>(cursor.resources.get());
  if (mine == nullptr) {
    cursor.resources = std::make_unique<ews_watch_subscriptions>();
    mine = static_cast<ews_watch_subscriptions*>(cursor.resources.get());
  }
  return *mine;
}

// Whether the watch needs a (new) streaming subscription: it has none, or the session's
// upstream dropped it from the client's set (the server said it was gone). One made over
// an earlier connection is registered with this client and kept: the server still has it
// (if not, the next GetStreamingEvents says so).
bool needs_streaming(ews::client& client, watch_cursor& cursor, ews_watch_subscriptions& held) {
  if (cursor.streaming_id.empty()) return true;
  const auto& live = client.streaming_subscriptions();
  if (held.registry() != live) {
    live->insert(cursor.streaming_id);
    return false;
  }
  return !live->contains(cursor.streaming_id);
}

}  // namespace

awaitable<error> ews_backend::poll_watch(connection_context& ctx, std::string folder, watch_cursor& cursor,
                                         const std::function<void(watch_event)>& emit) const {
  const auto version = ctx.ews->version();
  auto& held = subscriptions_of(cursor);
  // The streaming subscription only wakes the session (ews_upstream::wait_for_news); the
  // pull subscription below says what arrived, resumable from its watermark. Made first,
  // so nothing arriving after the pull read goes without a wake-up.
  const bool streams = ews::require(version, ews::feature::streaming_notifications).ok();
  const bool want_stream = streams && needs_streaming(*ctx.ews, cursor, held) &&
                           std::chrono::steady_clock::now() >= held.retry_at;
  std::optional<ews::folder_ref> where;
  if (want_stream || cursor.subscription_id.empty()) {
    auto resolved = co_await ews_folders::resolve(ctx, folder_or_inbox(folder), "folder");
    if (!resolved) co_return resolved.err();
    where = resolved.value();
  }
  if (want_stream) {
    if (!cursor.streaming_id.empty()) ctx.ews->streaming_subscriptions()->erase(cursor.streaming_id);
    cursor.streaming_id.clear();
    std::vector<ews::folder_ref> one{*where};
    auto reply = co_await ctx.ews->call(ews::subscribe_streaming(version, one));
    if (!reply && !ctx.ews->is_open()) co_return reply.err();  // the session reconnects
    auto sub = reply ? ews::parse_subscribe(reply.value()) : result<ews::subscription>(reply.err());
    if (sub) {
      cursor.streaming_id = sub->subscription_id;
      ctx.ews->streaming_subscriptions()->insert(cursor.streaming_id);
    } else {
      // Not fatal: the watch goes by its poll interval (the session waits on streams only
      // while every watch has one) and tries again later.
      held.retry_at = std::chrono::steady_clock::now() + streaming_retry_delay;
      spdlog::info("EWS watch of '{}': streaming Subscribe failed ({}); polling, retrying in {} s",
                   folder_or_inbox(folder), sub.err().message, streaming_retry_delay.count());
    }
  }
  held.track(*ctx.ews, cursor);
  if (cursor.subscription_id.empty()) {
    std::vector<ews::folder_ref> one{*where};
    // Resumes from the last watermark when there is one: the server replays what came after it.
    auto reply = co_await ctx.ews->call(ews::subscribe_pull(version, one, cursor.watermark, 30));
    if (!reply) co_return reply.err();
    if (auto e = first_failure(reply.value(), version); !e.ok()) co_return e;
    auto sub = ews::parse_subscribe(reply.value());
    if (!sub) co_return sub.err();
    cursor.subscription_id = sub->subscription_id;
    if (cursor.watermark.empty()) cursor.watermark = sub->watermark;
    held.track(*ctx.ews, cursor);
    if (!cursor.armed) {
      cursor.armed = true;
      watch_event ev;
      ev.type = watch_event::kind::watching;
      ev.mode = cursor.streaming_id.empty() ? "EWS_PULL" : "EWS_STREAMING";
      emit(std::move(ev));
      co_return error::none();
    }
  }
  for (int rounds = 0; rounds < 16; ++rounds) {  // MoreEvents: read on, within reason per poll
    auto reply = co_await ctx.ews->call(ews::get_events(version, cursor.subscription_id, cursor.watermark));
    if (!reply) co_return reply.err();
    if (!reply->messages.empty()) {
      const auto& code = reply->messages.front().response_code;
      if (code == "ErrorSubscriptionNotFound" || code == "ErrorExpiredSubscription" ||
          code == "ErrorInvalidSubscription" || code == "ErrorInvalidWatermark") {
        // Expired on the server (e.g. the daemon was away longer than its timeout): subscribe
        // again from the last watermark on the next poll.
        cursor.subscription_id.clear();
        if (code == "ErrorInvalidWatermark") cursor.watermark.clear();
        held.track(*ctx.ews, cursor);
        co_return error::none();
      }
    }
    if (auto e = first_failure(reply.value(), version); !e.ok()) co_return e;
    auto batch = ews::parse_events(reply.value());
    if (!batch) co_return batch.err();
    std::vector<message_ref> fresh;
    std::set<std::string> seen;
    for (const auto& ev : batch->events) {
      if (ev.about_folder || ev.item_id.empty()) continue;
      if (ev.type != "NewMailEvent" && ev.type != "CreatedEvent") continue;
      if (seen.insert(ev.item_id).second) fresh.push_back({0, 0, ev.item_id, {}});
    }
    if (!fresh.empty()) {
      auto got = co_await summaries(ctx, folder, fresh);
      if (!got) co_return got.err();
      for (auto& m : got.value()) {
        watch_event ev;
        ev.type = watch_event::kind::new_message;
        ev.message = std::move(m);
        emit(std::move(ev));
      }
    }
    // Moved on only once the news is out: a failure above re-reads the same events.
    if (auto last = batch->last_watermark(); !last.empty()) cursor.watermark = last;
    if (!batch->more_events) break;
  }
  co_return error::none();
}

awaitable<result<submitted_message>> ews_backend::submit(connection_context& ctx, std::string mime) const {
  ews::folder_ref sent;
  sent.distinguished = "sentitems";
  sent.mailbox_smtp = ews_folders::mailbox_of(ctx);
  ctx.cache.forget_lists();  // a copy lands in Sent Items
  auto reply = co_await ctx.ews->call(ews::send_mime(ctx.ews->version(), mime, true, sent));
  if (!reply) co_return reply.err();
  if (auto e = first_failure(reply.value(), ctx.ews->version()); !e.ok()) co_return e;
  co_return submitted_message{"EWS CreateItem SendAndSaveCopy: NoError"};
}

awaitable<result<submitted_message>> ews_backend::respond(connection_context& ctx, std::string, message_ref ref,
                                                          response_request request) const {
  std::vector<message_ref> one{ref};
  auto items = items_of(one, "ref");
  if (!items) co_return items.err();
  const auto kind = request.type == response_request::kind::forward     ? ews::reply_kind::forward
                    : request.type == response_request::kind::reply_all ? ews::reply_kind::reply_all
                                                                         : ews::reply_kind::reply;
  std::vector<std::string> to;
  for (const auto& a : request.to) to.push_back(a.address);
  for (const auto& a : request.cc) to.push_back(a.address);
  if (kind == ews::reply_kind::forward && to.empty()) co_return error{errc::invalid_argument, "to: at least one recipient"};
  ctx.cache.forget_lists();  // a copy lands in Sent Items
  auto reply = co_await ctx.ews->call(ews::reply(ctx.ews->version(), items->front(), kind, request.text_body, to, true));
  if (!reply) co_return reply.err();
  if (auto e = first_failure(reply.value(), ctx.ews->version()); !e.ok()) co_return e;
  co_return submitted_message{std::string("EWS CreateItem ") +
                              (kind == ews::reply_kind::forward ? "ForwardItem" : "ReplyToItem") + ": NoError"};
}

}  // namespace mailbroker::mailbox
