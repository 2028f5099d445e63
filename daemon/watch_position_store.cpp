#include "daemon/watch_position_store.hpp"

#include <spdlog/spdlog.h>

namespace mailbroker::daemon {

std::string watch_position_store::prefix_of(const std::string& session) { return "graph-delta:" + session + "\n"; }

std::string watch_position_store::key_of(const std::string& session, const std::string& folder) {
  return prefix_of(session) + folder;
}

std::optional<std::string> watch_position_store::take_saved(const std::string& session, const std::string& folder) {
  const std::string key = key_of(session, folder);
  {
    std::lock_guard lock(mutex_);
    // Claimed before the read: two watches starting at once cannot both get it.
    if (!used_.insert(key).second) return std::nullopt;
  }
  auto saved = store_->get_watch_cursor(key);
  if (!saved) {
    spdlog::warn("store: cannot read the saved Graph watch position of session '{}' folder '{}' (the watch starts "
                 "from now on): {}",
                 session, folder, saved.err().message);
    return std::nullopt;
  }
  return std::move(saved.value());
}

void watch_position_store::save(const std::string& session, const std::string& folder, const std::string& position) {
  const std::string key = key_of(session, folder);
  {
    std::lock_guard lock(mutex_);
    used_.insert(key);  // saved over: what a previous process saved is no longer handed out
  }
  if (auto e = store_->put_watch_cursor(key, position); !e.ok()) {
    spdlog::warn("store: cannot save the Graph watch position of session '{}' folder '{}' (after a restart the "
                 "watch resumes from an older one or starts from now on): {}",
                 session, folder, e.message);
  }
}

error watch_position_store::forget(const std::string& session) {
  const std::string prefix = prefix_of(session);
  {
    std::lock_guard lock(mutex_);
    for (auto it = used_.lower_bound(prefix); it != used_.end() && it->compare(0, prefix.size(), prefix) == 0;) {
      it = used_.erase(it);
    }
  }
  return store_->delete_watch_cursors_with_prefix(prefix);
}

}  // namespace mailbroker::daemon
