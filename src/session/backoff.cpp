#include "session/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace mailbroker::session {

backoff::backoff(backoff_policy policy, std::uint64_t seed) : policy_(policy), rng_(seed) {}

std::chrono::milliseconds backoff::next() {
  const double max_ms = static_cast<double>(policy_.max.count());
  const double step = std::min(max_ms, static_cast<double>(policy_.initial.count()) *
                                           std::pow(policy_.multiplier, static_cast<double>(std::min(attempts_, 64u))));
  ++attempts_;
  std::uniform_real_distribution<double> upper_half(step / 2.0, step);
  return std::chrono::milliseconds(static_cast<std::int64_t>(upper_half(rng_)));
}

}  // namespace mailbroker::session
