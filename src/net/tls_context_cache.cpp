#include "net/tls_context_cache.hpp"

#include <sys/stat.h>

namespace mailbroker::net {

tls_context_cache& tls_context_cache::process_wide() {
  static tls_context_cache instance;
  return instance;
}

result<std::shared_ptr<asio::ssl::context>> tls_context_cache::get(const tls_settings& settings) {
  key k{settings.ca_file, 0, 0, 0, 0, settings.verify};
  if (!settings.ca_file.empty()) {
    struct stat st {};
    // A file we cannot stat will not load either: build uncached and let it say why.
    if (::stat(settings.ca_file.c_str(), &st) != 0) return build_client_tls_context(settings);
    k.device = st.st_dev;
    k.inode = st.st_ino;
    k.size = static_cast<std::uint64_t>(st.st_size);
    k.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  }

  std::shared_ptr<slot> s;
  {
    std::lock_guard lock(mutex_);
    auto& entry = slots_[k];
    if (!entry) {
      prune_locked();
      entry = std::make_shared<slot>();
    }
    s = entry;
    if (auto ctx = s->shared.lock()) return ctx;
  }

  std::lock_guard build_lock(s->build);
  if (auto ctx = s->shared.lock()) return ctx;  // built while we waited
  auto built = build_client_tls_context(settings);
  if (!built) return built;
  // Written under both locks: readers hold one or the other.
  std::lock_guard lock(mutex_);
  s->shared = built.value();
  if (settings.ca_file.empty()) s->pinned = built.value();
  ++builds_;
  if (settings.ca_file.empty() && settings.verify) ++system_store_loads_;
  return built;
}

void tls_context_cache::prune_locked() {
  // Slots whose context died with its last user and that nobody is building.
  for (auto it = slots_.begin(); it != slots_.end();) {
    const auto& s = it->second;
    if (s && s.use_count() == 1 && !s->pinned && s->shared.expired()) {
      it = slots_.erase(it);
    } else {
      ++it;
    }
  }
}

error tls_context_cache::warm_system_store() {
  auto ctx = get({std::string(), true});
  return ctx ? error::none() : ctx.err();
}

void tls_context_cache::reload() {
  std::lock_guard lock(mutex_);
  slots_.clear();  // a build in progress finishes into its orphaned slot and is returned to its waiters
}

std::uint64_t tls_context_cache::builds() const {
  std::lock_guard lock(mutex_);
  return builds_;
}

std::uint64_t tls_context_cache::system_store_loads() const {
  std::lock_guard lock(mutex_);
  return system_store_loads_;
}

std::size_t tls_context_cache::size() const {
  std::lock_guard lock(mutex_);
  return slots_.size();
}

}  // namespace mailbroker::net
