#include "mailbox/shared_listing.hpp"

#include <memory>
#include <vector>

#include "session/inflight_lists.hpp"
#include "session/message_cache.hpp"

namespace mailbroker::mailbox {

awaitable<result<message_page>> shared_listing(session::connection_context& ctx, std::string key,
                                               std::optional<std::chrono::steady_clock::time_point> arrived,
                                               std::function<awaitable<result<message_page>>()> fetch) {
  if (arrived) {
    if (auto reused = ctx.cache.list_since(key, *arrived)) co_return std::move(*reused);
    auto running = ctx.lists_in_flight.find(key);
    if (running != ctx.lists_in_flight.end() && running->second->started >= *arrived) {
      auto pending = running->second;
      error_code ignored;
      co_await pending->done.async_wait(asio::redirect_error(use_awaitable, ignored));
      if (auto reused = ctx.cache.list_since(key, *arrived)) co_return std::move(*reused);
      // It failed (or the cache is off): ask the server ourselves.
    }
  }
  const auto started = std::chrono::steady_clock::now();  // before anything is asked
  auto mine = std::make_shared<session::inflight_list>(co_await asio::this_coro::executor, started);
  std::vector<std::string> keys{key};
  session::inflight_registration registered(ctx.lists_in_flight, std::move(keys), mine);
  auto out = co_await fetch();
  if (out) ctx.cache.put_list(key, started, out.value());
  co_return out;
}

}  // namespace mailbroker::mailbox
