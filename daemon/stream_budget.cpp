#include "daemon/stream_budget.hpp"

namespace mailbroker::daemon {

void stream_budget::slot::release() {
  if (!state_) return;
  std::lock_guard lock(state_->mutex);
  --state_->total;
  if (auto it = state_->by_principal.find(principal_); it != state_->by_principal.end() && --it->second == 0) {
    state_->by_principal.erase(it);
  }
  state_.reset();
}

result<stream_budget::slot> stream_budget::acquire(const std::string& principal_id) {
  std::lock_guard lock(state_->mutex);
  if (state_->total >= state_->max_total) {
    return error{errc::resource_exhausted, "streams: " + std::to_string(state_->total) +
                                               " watch streams are open, the daemon's limit (max-streams); "
                                               "try again later"};
  }
  auto& mine = state_->by_principal[principal_id];
  if (mine >= state_->max_per_principal) {
    return error{errc::resource_exhausted, "streams: " + principal_id + " has " + std::to_string(mine) +
                                               " watch streams open, its limit (max-streams-per-principal); close "
                                               "some (cancel calls whose results you no longer read)"};
  }
  ++mine;
  ++state_->total;
  slot s;
  s.state_ = state_;
  s.principal_ = principal_id;
  return s;
}

std::size_t stream_budget::open() const {
  std::lock_guard lock(state_->mutex);
  return state_->total;
}

}  // namespace mailbroker::daemon
