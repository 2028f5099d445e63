#include "mailbox/imap_read_ahead.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "mailbox/imap_mailbox.hpp"
#include "protocol/imap/client.hpp"
#include "protocol/imap/command.hpp"

namespace mailbroker::mailbox {
namespace {

std::string planned_key(const std::string& folder_wire, std::uint32_t uid) {
  return "\x02" + std::to_string(uid) + ":" + folder_wire;
}
std::string reading_key(const std::string& folder_wire, std::uint32_t uid) {
  return "\x03" + std::to_string(uid) + ":" + folder_wire;
}

// A planned mark whose plan still lives (see read_ahead_plan::mark).
bool planned(const session::inflight_lists& table, const std::string& key) {
  auto it = table.find(key);
  return it != table.end() && it->second.use_count() > 1;
}

}  // namespace

std::shared_ptr<read_ahead_plan> plan_read_ahead(session::connection_context& ctx, asio::any_io_executor executor,
                                                 const std::string& folder, const message_page& page,
                                                 std::uint64_t budget_bytes) {
  if (ctx.imap == nullptr || page.messages.empty() || page.uid_validity == 0) return nullptr;
  auto wire = wire_name(folder, "folder");
  if (!wire) return nullptr;
  auto plan = std::make_shared<read_ahead_plan>();
  const auto max_body = ctx.cache.limits().max_body_bytes;
  std::uint64_t bytes = 0;
  for (const auto& m : page.messages) {
    if (m.uid == 0 || m.size == 0 || m.size > max_body) continue;
    if (ctx.cache.contains_body(wire.value(), page.uid_validity, m.uid)) continue;
    if (bytes + m.size > budget_bytes) break;
    if (planned(ctx.lists_in_flight, planned_key(wire.value(), m.uid)) ||
        ctx.lists_in_flight.contains(reading_key(wire.value(), m.uid))) {
      continue;
    }
    bytes += m.size;
    plan->uids.push_back(m.uid);
  }
  if (plan->uids.empty()) return nullptr;
  plan->folder = folder;
  plan->folder_wire = std::move(wire.value());
  plan->uid_validity = page.uid_validity;
  plan->mark = std::make_shared<session::inflight_list>(std::move(executor), std::chrono::steady_clock::now());
  for (auto uid : plan->uids) ctx.lists_in_flight[planned_key(plan->folder_wire, uid)] = plan->mark;
  return plan;
}

awaitable<void> read_ahead(session::connection_context* ctx, std::shared_ptr<read_ahead_plan> plan) {
  if (ctx == nullptr) co_return;
  auto& table = ctx->lists_in_flight;
  for (auto uid : plan->uids) {
    if (auto it = table.find(planned_key(plan->folder_wire, uid)); it != table.end() && it->second == plan->mark) {
      table.erase(it);
    }
  }
  if (auto e = co_await select_folder(*ctx, plan->folder); !e.ok()) co_return;
  if (ctx->uid_validity != plan->uid_validity) co_return;  // another mailbox under that name now
  std::vector<std::uint32_t> uids;
  for (auto uid : plan->uids) {
    if (!ctx->cache.contains_body(plan->folder_wire, plan->uid_validity, uid) &&
        !table.contains(reading_key(plan->folder_wire, uid))) {
      uids.push_back(uid);
    }
  }
  if (uids.empty()) co_return;
  std::vector<std::string> keys;
  for (auto uid : uids) keys.push_back(reading_key(plan->folder_wire, uid));
  // GetMessage calls of these uids wait for this fetch from now on (fetch_chunk); they
  // wake when it ends, however it ends.
  session::inflight_registration reading(
      table, std::move(keys),
      std::make_shared<session::inflight_list>(co_await asio::this_coro::executor, std::chrono::steady_clock::now()));
  const auto max_body = ctx->cache.limits().max_body_bytes;
  std::string command = "UID FETCH " + imap::format_uid_set(uids) + " (RFC822.SIZE BODY.PEEK[]<0." +
                        std::to_string(max_body) + ">)";
  auto r = co_await ctx->imap->execute(std::move(command), ctx->command_timeout);
  if (!r || r->status != "OK") {
    spdlog::debug("read-ahead of {} bodies in {} failed: {}", uids.size(), plan->folder,
                  r ? r->text : r.err().message);
    co_return;
  }
  for (auto& u : r->untagged) {
    if (u.name != "FETCH") continue;
    for (auto uid : uids) {
      auto c = imap::parse_fetch_body_chunk(u, uid);
      if (!c) continue;
      if (c->offset == 0 && c->total_size && *c->total_size == c->data.size()) {
        ctx->cache.put_body(plan->folder_wire, plan->uid_validity, uid, std::move(c->data));
      }
      break;
    }
  }
}

std::shared_ptr<session::inflight_list> read_ahead_in_flight(session::connection_context& ctx,
                                                             const std::string& folder_wire, std::uint32_t uid) {
  auto it = ctx.lists_in_flight.find(reading_key(folder_wire, uid));
  return it == ctx.lists_in_flight.end() ? nullptr : it->second;
}

}  // namespace mailbroker::mailbox
