#include "session/tls_context_cache.hpp"

#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace mailbroker::session {

result<std::shared_ptr<asio::ssl::context>> shared_client_tls_context(const net::tls_settings& settings,
                                                                      std::chrono::seconds max_age) {
  struct entry {
    std::weak_ptr<asio::ssl::context> context;
    std::chrono::steady_clock::time_point built;
  };
  static std::mutex mutex;
  static std::map<std::pair<std::string, bool>, entry> cache;  // guarded by mutex

  const auto key = std::make_pair(settings.ca_file, settings.verify);
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex);
    if (auto it = cache.find(key); it != cache.end() && now - it->second.built < max_age) {
      if (auto ctx = it->second.context.lock()) return ctx;
    }
  }
  // Built outside the lock: a slow load must not hold up sessions that hit the cache.
  // Two sessions missing at once both build one; the later one is kept.
  auto made = net::make_client_tls_context(settings);
  if (!made) return made.err();
  std::lock_guard lock(mutex);
  for (auto it = cache.begin(); it != cache.end();) {
    it = it->second.context.expired() ? cache.erase(it) : std::next(it);  // few keys: ca_file x verify
  }
  cache[key] = entry{made.value(), now};
  return made;
}

}  // namespace mailbroker::session
