#include "session/lease_table.hpp"

#include <gtest/gtest.h>

namespace mailbroker::session {
namespace {

using std::chrono::seconds;

TEST(lease_table, AddRenewExpire) {
  lease_table t;
  const steady_time t0{};
  const auto a = t.add("bot-a", seconds(10), t0).id;
  const auto b = t.add("bot-b", seconds(20), t0).id;
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.next_expiry(), t0 + seconds(10));

  EXPECT_EQ(t.renew(a, t0 + seconds(8)), t0 + seconds(18));
  EXPECT_FALSE(t.renew("unknown", t0).has_value());
  EXPECT_EQ(t.next_expiry(), t0 + seconds(18));

  EXPECT_TRUE(t.expire(t0 + seconds(17)).empty());
  auto gone = t.expire(t0 + seconds(18));
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].id, a);
  EXPECT_EQ(gone[0].client_name, "bot-a");
  EXPECT_FALSE(t.contains(a));
  EXPECT_TRUE(t.contains(b));

  EXPECT_TRUE(t.remove(b));
  EXPECT_FALSE(t.remove(b));
  EXPECT_TRUE(t.empty());
  EXPECT_FALSE(t.next_expiry().has_value());
}

}  // namespace
}  // namespace mailbroker::session
