#pragma once
// Reconnect delays: exponential growth from `initial`, capped at `max`, with "equal
// jitter" (a random point in the upper half of the step) so that many sessions dropped
// by one server restart do not reconnect in lockstep.
#include <chrono>
#include <cstdint>
#include <random>

namespace mailbroker::session {

struct backoff_policy {
  std::chrono::milliseconds initial{500};
  std::chrono::milliseconds max{60000};
  double multiplier = 2.0;
};

class backoff {
 public:
  explicit backoff(backoff_policy policy, std::uint64_t seed = std::random_device{}());

  // Delay before attempt number attempts()+1; each call advances the attempt count.
  // Always within [step/2, step] where step = min(max, initial * multiplier^n).
  std::chrono::milliseconds next();
  void reset() { attempts_ = 0; }
  std::uint32_t attempts() const { return attempts_; }

 private:
  backoff_policy policy_;
  std::uint32_t attempts_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace mailbroker::session
