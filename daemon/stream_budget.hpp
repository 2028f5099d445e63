#pragma once
// Bounds the server streams (WatchStatus, WatchMessages) open at once, in all and per
// principal: each holds buffers and a watcher until its reader goes, and 400 streams
// whose readers stopped took the daemon from 35 to 524 MiB (issue #10).
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/error.hpp"

namespace mailbroker::daemon {

class stream_budget {
  struct state;

 public:
  stream_budget(std::size_t max_total, std::size_t max_per_principal)
      : state_(std::make_shared<state>(max_total, max_per_principal)) {}

  // A place in the budget; released when destroyed (movable, not copyable).
  class slot {
   public:
    slot() = default;
    slot(slot&& other) noexcept = default;
    slot& operator=(slot&& other) noexcept {
      release();
      state_ = std::move(other.state_);
      principal_ = std::move(other.principal_);
      return *this;
    }
    ~slot() { release(); }

   private:
    friend class stream_budget;
    void release();
    std::shared_ptr<state> state_;
    std::string principal_;
  };

  // Errors: resource_exhausted naming the limit and its config key.
  result<slot> acquire(const std::string& principal_id);

  std::size_t open() const;

 private:
  struct state {
    state(std::size_t limit, std::size_t per) : max_total(limit), max_per_principal(per) {}
    std::mutex mutex;
    std::size_t max_total;
    std::size_t max_per_principal;
    std::size_t total = 0;
    std::unordered_map<std::string, std::size_t> by_principal;
  };
  std::shared_ptr<state> state_;
};

}  // namespace mailbroker::daemon
