#pragma once
// Spreading periodic work: with 10,000 sessions, keepalives armed with the same interval
// from the same start would all fire together.
#include <chrono>
#include <random>

namespace mailbroker::session {

// `d` scaled by a uniform random factor in [1 - spread, 1 + spread] (spread is clamped
// to 0..1), at millisecond resolution. Not for security: a per-thread PRNG.
inline std::chrono::milliseconds jittered(std::chrono::milliseconds d, double spread = 0.1) {
  if (spread <= 0 || d.count() <= 0) return d;
  if (spread > 1) spread = 1;
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> factor(1.0 - spread, 1.0 + spread);
  return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(static_cast<double>(d.count()) * factor(rng)));
}

}  // namespace mailbroker::session
