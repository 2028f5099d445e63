#include "mailbox/ews_bodies.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <vector>

#include "mailbox/item_support.hpp"
#include "protocol/ews/client.hpp"

namespace mailbroker::mailbox::ews_bodies {
namespace {

using session::connection_context;

// Bodies other callers wait for that may come along with `ref`'s: not cached, not being
// fetched, listed with a size the cache keeps, one per item.
std::vector<ews::item_ref> companions_of(connection_context& ctx, const message_ref& ref) {
  std::vector<ews::item_ref> out;
  const auto max_body = ctx.cache.limits().max_body_bytes;
  for (auto& [id, version] : ctx.cache.take_wanted_items(max_batched_items - 1)) {
    if (id == ref.item_id || version.empty() || ctx.cache.contains_item_body(id, version)) continue;
    if (ctx.lists_in_flight.contains(fetch_key(id))) continue;
    const auto size = ctx.cache.item_size(id, version);
    if (!size || *size > max_body) continue;
    if (std::any_of(out.begin(), out.end(), [&](const ews::item_ref& r) { return r.id == id; })) continue;
    out.push_back({std::move(id), std::move(version)});
  }
  return out;
}

}  // namespace

std::string fetch_key(const std::string& item_id) {
  std::string key = "\x01" "ews-get";
  key += '\0';
  key += item_id;
  return key;
}

awaitable<result<std::string>> read(connection_context& ctx, message_ref ref, std::uint64_t max_bytes) {
  if (!ref.change_key.empty()) {
    if (auto body = ctx.cache.item_body(ref.item_id, ref.change_key)) co_return item_support::checked_copy(*body, max_bytes);
    // Another operation is fetching this item: its answer lands in the cache.
    if (auto running = ctx.lists_in_flight.find(fetch_key(ref.item_id)); running != ctx.lists_in_flight.end()) {
      auto pending = running->second;
      error_code ignored;
      co_await pending->done.async_wait(asio::redirect_error(use_awaitable, ignored));
      if (auto body = ctx.cache.item_body(ref.item_id, ref.change_key)) co_return item_support::checked_copy(*body, max_bytes);
      // It failed, found another version, or the body was too large to keep: ask ourselves.
    }
  }

  std::vector<ews::item_ref> batch{{ref.item_id, ref.change_key}};
  for (auto& other : companions_of(ctx, ref)) batch.push_back(std::move(other));
  std::vector<std::string> keys;
  for (const auto& item : batch) keys.push_back(fetch_key(item.id));
  auto mine = std::make_shared<session::inflight_list>(co_await asio::this_coro::executor,
                                                       std::chrono::steady_clock::now());
  session::inflight_registration registered(ctx.lists_in_flight, std::move(keys), mine);

  auto request = ews::get_items(ctx.ews->version(), batch, true, false);
  auto reply = co_await ctx.ews->call(std::move(request));
  if (!reply) co_return reply.err();
  auto fetched = ews::parse_items(reply.value());
  if (!fetched) co_return fetched.err();

  // One response message per requested id, in order: each item's outcome is its own.
  std::vector<std::string> gone;
  std::optional<result<std::string>> answer;
  const auto max_body = ctx.cache.limits().max_body_bytes;
  for (std::size_t i = 0; i < std::min(fetched->size(), batch.size()); ++i) {
    auto& item = fetched->at(i);
    const bool own = i == 0;
    if (!item.status.ok()) {
      if (item.status.code == errc::not_found) gone.push_back(batch[i].id);
      if (own) answer = item.status;
      continue;
    }
    if (!item.mime) {
      if (own) answer = error{errc::internal, "EWS GetItem returned no MimeContent"};
      continue;
    }
    // Kept under the version the server sent (a ref's change key may be older).
    const std::string& version = item.summary.change_key;
    if (!own) {
      ctx.cache.put_item_body(batch[i].id, version, std::move(*item.mime));
      continue;
    }
    if (item.mime->size() <= max_body) ctx.cache.put_item_body(batch[i].id, version, *item.mime);
    if (item.mime->size() > max_bytes) answer = item_support::too_large(item.mime->size(), max_bytes);
    else answer = std::move(*item.mime);
  }
  if (!gone.empty()) ctx.cache.forget_items(gone);
  if (!answer) co_return error{errc::internal, "EWS GetItem returned no item"};
  co_return std::move(*answer);
}

}  // namespace mailbroker::mailbox::ews_bodies
