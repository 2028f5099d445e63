#include "session/backoff.hpp"

#include <gtest/gtest.h>

namespace mailbroker::session {
namespace {

using std::chrono::milliseconds;

TEST(backoff, GrowsExponentiallyWithinJitterBoundsAndCaps) {
  backoff b({milliseconds(100), milliseconds(1000), 2.0}, 42);
  const double steps[] = {100, 200, 400, 800, 1000, 1000, 1000};
  for (double step : steps) {
    auto d = b.next().count();
    EXPECT_GE(d, static_cast<long>(step / 2) - 1) << "step " << step;
    EXPECT_LE(d, static_cast<long>(step)) << "step " << step;
  }
  EXPECT_EQ(b.attempts(), 7u);
  b.reset();
  EXPECT_LE(b.next().count(), 100);
}

TEST(backoff, JitterSpreadsSessionsApart) {
  backoff a({milliseconds(1000), milliseconds(60000), 2.0}, 1);
  backoff b({milliseconds(1000), milliseconds(60000), 2.0}, 2);
  int equal = 0;
  for (int i = 0; i < 5; ++i) equal += a.next() == b.next() ? 1 : 0;
  EXPECT_LT(equal, 5);
}

TEST(backoff, HugeAttemptCountsDoNotOverflow) {
  backoff b({milliseconds(500), milliseconds(60000), 2.0}, 7);
  for (int i = 0; i < 10000; ++i) {
    auto d = b.next().count();
    ASSERT_GE(d, 0);
    ASSERT_LE(d, 60000);
  }
}

}  // namespace
}  // namespace mailbroker::session
