#include "mailbox/graph_backend.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>

#include <spdlog/spdlog.h>

#include "mailbox/folder_paths.hpp"
#include "mailbox/graph_folders.hpp"
#include "mailbox/item_support.hpp"
#include "mailbox/shared_listing.hpp"
#include "protocol/graph/batch.hpp"
#include "protocol/graph/client.hpp"
#include "protocol/graph/responses.hpp"
#include "session/inflight_lists.hpp"
#include "session/message_cache.hpp"

namespace mailbroker::mailbox {
namespace {

using session::connection_context;

error check_items(const std::vector<message_ref>& refs, std::string_view field) {
  return item_support::check_refs(refs, field, "Graph");
}

std::vector<std::string> ids_of(const std::vector<message_ref>& refs) {
  std::vector<std::string> out;
  out.reserve(refs.size());
  for (const auto& r : refs) out.push_back(r.item_id);
  return out;
}

std::string item_name(const message_ref& ref) { return "message " + ref.item_id; }

graph::message_query query_of(const imap::search_criteria& c) {
  graph::message_query q;
  if (c.read == imap::search_criteria::read_state::unread) q.is_read = false;
  if (c.read == imap::search_criteria::read_state::read) q.is_read = true;
  q.from = c.from_contains;
  q.subject_contains = c.subject_contains;
  if (c.since) q.since = std::chrono::system_clock::time_point(*c.since);
  if (c.before) q.before = std::chrono::system_clock::time_point(*c.before);
  return q;
}

std::string fetch_key(const std::string& item_id) {
  std::string key = "\x01" "graph-get";
  key += '\0';
  key += item_id;
  return key;
}

// Sends one request per message: alone for one, else in $batch requests of up to 20 (one
// after another: each member still counts against the mailbox's 4 concurrent requests, so
// parallel batches would only earn 429s). The outcome of each, in order; the call fails
// as a whole only when a builder refused its input or a batch itself failed.
awaitable<result<std::vector<result<graph::answer>>>> send_each(connection_context& ctx,
                                                                std::vector<result<graph::request>> built,
                                                                std::vector<std::string> items) {
  std::vector<graph::request> requests;
  requests.reserve(built.size());
  for (auto& b : built) {
    if (!b) co_return b.err();
    requests.push_back(std::move(b.value()));
  }
  std::vector<result<graph::answer>> out;
  if (requests.size() == 1) {
    std::string item;  // not a conditional expression in the co_await operand (g++ 12, STYLE.md)
    if (!items.empty()) item = items.front();
    out.push_back(co_await ctx.graph->send(std::move(requests.front()), std::move(item)));
    co_return out;
  }
  for (std::size_t at = 0; at < requests.size(); at += graph::max_batch_requests) {
    const std::size_t end = std::min(requests.size(), at + graph::max_batch_requests);
    std::vector<graph::request> part(std::make_move_iterator(requests.begin() + static_cast<std::ptrdiff_t>(at)),
                                     std::make_move_iterator(requests.begin() + static_cast<std::ptrdiff_t>(end)));
    std::vector<std::string> part_items;
    for (std::size_t i = at; i < end && i < items.size(); ++i) part_items.push_back(items[i]);
    auto answers = co_await ctx.graph->send_batch(std::move(part), std::move(part_items));
    if (!answers) co_return answers.err();
    for (auto& a : answers.value()) out.push_back(std::move(a));
  }
  co_return out;
}

// Per-message outcomes → the call's error: not_found naming the unknown messages, else the
// first other failure.
error per_item(const std::vector<result<graph::answer>>& outcomes, const std::vector<message_ref>& refs,
               std::string_view done) {
  std::string missing;
  std::size_t failed = 0;
  error other = error::none();
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    if (outcomes[i]) continue;
    ++failed;
    if (outcomes[i].err().code == errc::not_found && i < refs.size()) {
      if (!missing.empty()) missing += ", ";
      missing += refs[i].item_id;
    } else if (other.ok()) {
      other = outcomes[i].err();
    }
  }
  if (!other.ok()) return other;
  if (failed == 0) return error::none();
  if (outcomes.size() == 1) return outcomes.front().err();
  return {errc::not_found, "messages " + missing + " do not exist (moved or deleted?); the other " +
                               std::to_string(outcomes.size() - failed) + " were " + std::string(done)};
}

}  // namespace

awaitable<result<std::vector<folder>>> graph_backend::list_folders(connection_context& ctx, std::string pattern,
                                                                   std::string regex) const {
  if (auto checked = folder_paths::filter({}, pattern, regex); !checked) co_return checked.err();
  auto tree = co_await graph_folders::tree(ctx, true);
  if (!tree) co_return tree.err();
  std::vector<folder_paths::named_folder> named;
  for (const auto& f : tree.value()) named.push_back({f.path, f.has_children});
  co_return folder_paths::filter(named, std::move(pattern), regex);
}

awaitable<result<message_page>> graph_backend::list_messages(connection_context& ctx, list_query query) const {
  auto offset = item_support::page_offset(query);
  if (!offset) co_return offset.err();
  auto q = query_of(query.criteria);
  q.newest_first = query.order == list_order::newest_first;
  q.top = query.limit;
  q.skip = offset.value();
  const std::string folder = folder_paths::canonical(query.folder);
  const std::string key = item_support::listing_key("graph-list", folder, query);
  // In a variable: a lambda temporary inside a co_await operand is miscompiled by g++ 12 (STYLE.md).
  std::function<awaitable<result<message_page>>()> fetch = [&ctx, folder, q]() -> awaitable<result<message_page>> {
    auto where = co_await graph_folders::resolve(ctx, folder, "folder");
    if (!where) co_return where.err();
    auto reply = co_await ctx.graph->send(graph::list_messages(ctx.graph->mailbox_root(), where.value(), q),
                                          "folder " + folder);
    if (!reply) co_return reply.err();
    auto page = graph::parse_message_list(reply->body, reply->status);
    if (!page) co_return page.err();
    message_page out;
    out.messages = std::move(page->messages);
    const auto listed = q.skip + static_cast<std::uint32_t>(out.messages.size());
    // Graph's nextLink for messages is the same query with a larger $skip: our token is
    // that offset, so a caller's token never becomes a URL the daemon would follow.
    if (!page->next_link.empty() && !out.messages.empty()) out.next_page_token = std::to_string(listed);
    else out.total_matching = listed;  // known only on the last page
    co_return out;
  };
  co_return co_await shared_listing(ctx, key, query.arrived, std::move(fetch));
}

awaitable<result<std::string>> graph_backend::read_whole(connection_context& ctx, std::string, message_ref ref,
                                                         std::uint64_t max_bytes) const {
  std::vector<message_ref> one{ref};
  if (auto e = check_items(one, "ref"); !e.ok()) co_return e;
  // A message's MIME is fixed for a given changeKey (any change to it makes a new one).
  if (!ref.change_key.empty()) {
    if (auto body = ctx.cache.item_body(ref.item_id, ref.change_key)) co_return item_support::checked_copy(*body, max_bytes);
    if (auto running = ctx.lists_in_flight.find(fetch_key(ref.item_id)); running != ctx.lists_in_flight.end()) {
      auto pending = running->second;
      error_code ignored;
      co_await pending->done.async_wait(asio::redirect_error(use_awaitable, ignored));
      if (auto body = ctx.cache.item_body(ref.item_id, ref.change_key)) co_return item_support::checked_copy(*body, max_bytes);
    }
  }
  auto mine = std::make_shared<session::inflight_list>(co_await asio::this_coro::executor,
                                                       std::chrono::steady_clock::now());
  std::vector<std::string> keys{fetch_key(ref.item_id)};
  session::inflight_registration registered(ctx.lists_in_flight, std::move(keys), mine);
  auto reply = co_await ctx.graph->send(graph::get_mime(ctx.graph->mailbox_root(), ref.item_id), item_name(ref));
  if (!reply) {
    if (reply.err().code == errc::not_found) ctx.cache.forget_items(ids_of(one));
    co_return reply.err();
  }
  // $value carries no changeKey: the bytes are kept under the version the caller named
  // (its listing's); a newer version of a message has the same MIME unless Graph
  // rewrote it, which no flag or move does.
  if (!ref.change_key.empty() && reply->body.size() <= ctx.cache.limits().max_body_bytes) {
    ctx.cache.put_item_body(ref.item_id, ref.change_key, reply->body);
  }
  if (reply->body.size() > max_bytes) co_return item_support::too_large(reply->body.size(), max_bytes);
  co_return std::move(reply->body);
}

awaitable<error> graph_backend::set_flags(connection_context& ctx, std::string, std::vector<message_ref> refs,
                                          std::optional<bool> seen, std::optional<bool> flagged) const {
  if (auto e = check_items(refs, "refs"); !e.ok()) co_return e;
  if (!seen && !flagged) co_return error{errc::invalid_argument, "seen or flagged must be set"};
  std::vector<result<graph::request>> built;
  std::vector<std::string> items;
  for (const auto& r : refs) {
    built.push_back(graph::update_message(ctx.graph->mailbox_root(), r.item_id, seen, flagged));
    items.push_back(item_name(r));
  }
  auto outcomes = co_await send_each(ctx, std::move(built), std::move(items));
  // New changeKeys: the old versions' bodies are dead weight, and listings are stale.
  ctx.cache.forget_items(ids_of(refs));
  ctx.cache.forget_lists();
  if (!outcomes) co_return outcomes.err();
  co_return per_item(outcomes.value(), refs, "changed");
}

awaitable<result<std::vector<message_ref>>> graph_backend::copy_messages(connection_context& ctx, std::string,
                                                                         std::vector<message_ref> refs,
                                                                         std::string target, bool move) const {
  if (auto e = check_items(refs, "refs"); !e.ok()) co_return e;
  if (target.empty()) co_return error{errc::invalid_argument, "target_folder is required"};
  auto to = co_await graph_folders::resolve(ctx, target, "target_folder");
  if (!to) co_return to.err();
  std::vector<result<graph::request>> built;
  std::vector<std::string> items;
  for (const auto& r : refs) {
    built.push_back(move ? graph::move_message(ctx.graph->mailbox_root(), r.item_id, to.value())
                         : graph::copy_message(ctx.graph->mailbox_root(), r.item_id, to.value()));
    items.push_back(item_name(r));
  }
  auto outcomes = co_await send_each(ctx, std::move(built), std::move(items));
  if (move) ctx.cache.forget_items(ids_of(refs));  // a moved message gets a new id
  ctx.cache.forget_lists();
  if (!outcomes) co_return outcomes.err();
  if (auto e = per_item(outcomes.value(), refs, move ? "moved" : "copied"); !e.ok()) co_return e;
  std::vector<message_ref> out;
  for (const auto& o : outcomes.value()) {
    auto m = graph::parse_message(o->body, o->status);
    if (!m) break;  // new ids only when the server gave every one
    out.push_back({0, 0, m->item_id, m->change_key});
  }
  if (out.size() != refs.size()) out.clear();
  co_return out;
}

awaitable<error> graph_backend::delete_messages(connection_context& ctx, std::string, std::vector<message_ref> refs,
                                                bool permanent) const {
  if (auto e = check_items(refs, "refs"); !e.ok()) co_return e;
  std::vector<result<graph::request>> built;
  std::vector<std::string> items;
  for (const auto& r : refs) {
    built.push_back(graph::delete_message(ctx.graph->mailbox_root(), r.item_id, permanent));
    items.push_back(item_name(r));
  }
  auto outcomes = co_await send_each(ctx, std::move(built), std::move(items));
  ctx.cache.forget_items(ids_of(refs));
  ctx.cache.forget_lists();
  if (!outcomes) co_return outcomes.err();
  co_return per_item(outcomes.value(), refs, "deleted");
}

awaitable<result<std::uint32_t>> graph_backend::open_folder(connection_context& ctx, std::string folder) const {
  auto where = co_await graph_folders::resolve(ctx, folder_paths::canonical(folder), "folder");
  if (!where) co_return where.err();
  co_return std::uint32_t{0};  // item ids need no folder identity
}

awaitable<result<std::vector<message_ref>>> graph_backend::search(connection_context& ctx, std::string folder,
                                                                  imap::search_criteria criteria) const {
  const std::string path = folder_paths::canonical(folder);
  auto where = co_await graph_folders::resolve(ctx, path, "folder");
  if (!where) co_return where.err();
  auto q = query_of(criteria);
  q.top = graph::max_page_size;  // the oldest 1000 matches: enough for a claim batch of 100
  auto reply = co_await ctx.graph->send(graph::list_messages(ctx.graph->mailbox_root(), where.value(), q),
                                        "folder " + path);
  if (!reply) co_return reply.err();
  auto page = graph::parse_message_list(reply->body, reply->status);
  if (!page) co_return page.err();
  std::vector<message_ref> out;
  for (const auto& m : page->messages) out.push_back({0, 0, m.item_id, m.change_key});
  co_return out;
}

awaitable<result<std::vector<message_summary>>> graph_backend::summaries(connection_context& ctx, std::string,
                                                                         std::vector<message_ref> refs) const {
  if (refs.empty()) co_return std::vector<message_summary>{};
  if (auto e = check_items(refs, "refs"); !e.ok()) co_return e;
  std::vector<result<graph::request>> built;
  std::vector<std::string> items;
  for (const auto& r : refs) {
    built.push_back(graph::get_message(ctx.graph->mailbox_root(), r.item_id, false));
    items.push_back(item_name(r));
  }
  auto outcomes = co_await send_each(ctx, std::move(built), std::move(items));
  if (!outcomes) co_return outcomes.err();
  std::vector<message_summary> out;
  for (const auto& o : outcomes.value()) {
    if (!o) {
      if (o.err().code == errc::not_found) continue;  // gone meanwhile: left out
      co_return o.err();
    }
    auto m = graph::parse_message(o->body, o->status);
    if (!m) co_return m.err();
    out.push_back(std::move(m.value()));
  }
  co_return out;
}

namespace {

// Messages per delta page (Prefer: odata.maxpagesize), and pages read per poll before the
// rest waits for the next poll (a folder of 50,000 messages takes 50 polls to baseline,
// each bounded in time and memory).
constexpr std::uint32_t delta_page_size = 1000;
constexpr int max_delta_pages_per_poll = 16;

// A poll that failed while the session's connections are fine (a 502 from a proxy, a 503
// still there after the retries, an answer cut short) ends nothing: the watch reads the same
// delta link again at its next poll. Anything else ends the watch with the error; a lost
// connection makes the session reconnect and the watch go on.
error passing_trouble(const session::connection_context& ctx, const std::string& folder, error e) {
  const bool transient = e.code == errc::unavailable || e.code == errc::deadline_exceeded || e.code == errc::aborted;
  if (!transient || !ctx.graph->is_open()) return e;
  spdlog::info("Graph watch of '{}': {}; trying again at the next poll", folder, e.message);
  return error::none();
}

}  // namespace

awaitable<error> graph_backend::poll_watch(connection_context& ctx, std::string folder, watch_cursor& cursor,
                                           const std::function<void(watch_event)>& emit) const {
  const std::string path = folder_paths::canonical(folder);
  if (cursor.delta_link.empty()) {
    // A new round: its first pages list what is in the folder now (not news: the watch
    // reports what arrives after it started).
    auto where = co_await graph_folders::resolve(ctx, path, "folder");
    if (!where) co_return where.err();
    auto first = graph::delta(ctx.graph->mailbox_root(), where.value(), delta_page_size, true);
    if (!first) co_return first.err();
    cursor.delta_news = false;
    cursor.delta_link = first->url;
  }
  if (cursor.delta_news && !cursor.armed) {
    // Seeded with a position an earlier watch saved (a daemon restart): what arrived since
    // is news, read from there.
    cursor.armed = true;
    watch_event ev;
    ev.type = watch_event::kind::watching;
    ev.mode = "GRAPH_DELTA";
    emit(std::move(ev));
  }
  for (int pages = 0; pages < max_delta_pages_per_poll; ++pages) {
    const bool baseline = !cursor.delta_news;
    auto reply = co_await ctx.graph->send(graph::follow(cursor.delta_link, delta_page_size), "folder " + path);
    if (!reply) {
      if (reply.err().code == errc::failed_precondition || reply.err().code == errc::not_found) {
        // The delta link expired (410 SyncStateNotFound) or the folder went: a new round
        // on the next poll. Arrivals between the two rounds cannot be told apart from
        // what was there: they are not reported (said in the proto).
        spdlog::info("Graph watch of '{}': {}; starting a new delta round", path, reply.err().message);
        cursor.delta_link.clear();
        co_return error::none();
      }
      co_return passing_trouble(ctx, path, reply.err());
    }
    auto page = graph::parse_delta_page(reply->body, reply->status);
    if (!page) co_return passing_trouble(ctx, path, page.err());
    if (!baseline) {
      for (auto& m : page->changed) {
        watch_event ev;
        ev.type = watch_event::kind::new_message;
        ev.message = std::move(m);
        emit(std::move(ev));
      }
    }
    // Moved on only once the news is out: a failure above reads the same page again.
    const std::string& next = page->next_link.empty() ? page->delta_link : page->next_link;
    auto link = ctx.graph->relative(next, page->next_link.empty() ? "the delta link" : "the next delta page");
    if (!link) co_return link.err();
    cursor.delta_link = std::move(link.value());
    if (!page->next_link.empty()) continue;
    // A round ended: from now on every round's pages are news.
    if (baseline) {
      cursor.delta_news = true;
      if (!cursor.armed) {
        cursor.armed = true;
        watch_event ev;
        ev.type = watch_event::kind::watching;
        ev.mode = "GRAPH_DELTA";
        emit(std::move(ev));
      }
    }
    break;
  }
  co_return error::none();
}

awaitable<result<submitted_message>> graph_backend::submit(connection_context& ctx, std::string mime) const {
  ctx.cache.forget_lists();  // a copy lands in Sent Items
  auto reply = co_await ctx.graph->send(graph::send_mime(ctx.graph->mailbox_root(), mime));
  if (!reply) co_return reply.err();
  co_return submitted_message{"Graph sendMail: HTTP " + std::to_string(reply->status)};
}

awaitable<result<submitted_message>> graph_backend::respond(connection_context& ctx, std::string, message_ref ref,
                                                            response_request request) const {
  std::vector<message_ref> one{ref};
  if (auto e = check_items(one, "ref"); !e.ok()) co_return e;
  const auto kind = request.type == response_request::kind::forward     ? graph::reply_kind::forward
                    : request.type == response_request::kind::reply_all ? graph::reply_kind::reply_all
                                                                         : graph::reply_kind::reply;
  std::vector<graph::recipient> to;
  for (const auto& a : request.to) to.push_back({a.name, a.address});
  for (const auto& a : request.cc) to.push_back({a.name, a.address});
  if (kind == graph::reply_kind::forward && to.empty()) co_return error{errc::invalid_argument, "to: at least one recipient"};
  ctx.cache.forget_lists();  // a copy lands in Sent Items
  auto built = graph::reply(ctx.graph->mailbox_root(), ref.item_id, kind, request.text_body, to);
  auto reply = co_await ctx.graph->send(std::move(built), item_name(ref));
  if (!reply) co_return reply.err();
  const char* what = kind == graph::reply_kind::forward ? "forward" : kind == graph::reply_kind::reply_all ? "replyAll" : "reply";
  co_return submitted_message{std::string("Graph ") + what + ": HTTP " + std::to_string(reply->status)};
}

}  // namespace mailbroker::mailbox
