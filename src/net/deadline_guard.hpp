#pragma once
// Bounds an asynchronous operation: if the guard is still alive when `timeout`
// elapses, `on_expire` runs (typically: close the socket, which aborts the operation).
// Destroying the guard disarms it, even if the timer already fired and its handler is
// queued — so the guard can live in a coroutine frame and reference its owner safely.
#include <functional>
#include <memory>

#include "net/asio.hpp"

namespace mailbroker::net {

class deadline_guard {
 public:
  template <class Duration>
  deadline_guard(const asio::any_io_executor& executor, Duration timeout, std::function<void()> on_expire)
      : timer_(executor, timeout) {
    timer_.async_wait([state = state_, fn = std::move(on_expire)](error_code ec) {
      if (ec || !state->armed) return;
      state->expired = true;
      fn();
    });
  }
  ~deadline_guard() {
    state_->armed = false;
    timer_.cancel();
  }
  deadline_guard(const deadline_guard&) = delete;
  deadline_guard& operator=(const deadline_guard&) = delete;

  bool expired() const { return state_->expired; }

 private:
  struct state {
    bool armed = true;
    bool expired = false;
  };
  std::shared_ptr<state> state_ = std::make_shared<state>();
  asio::steady_timer timer_;
};

}  // namespace mailbroker::net
