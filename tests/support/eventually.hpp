#pragma once
// Polls `pred` until it holds or `timeout` passes: for conditions the tests cannot be
// told about (a state another process reaches, a log line, a counter).
#include <chrono>
#include <thread>

namespace mailbroker::testing {

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step = std::chrono::milliseconds(50)) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(step);
  }
  return pred();
}

}  // namespace mailbroker::testing
