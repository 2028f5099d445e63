#include "session/claim_table.hpp"

#include <gtest/gtest.h>

namespace mailbroker::session {
namespace {

using namespace std::chrono_literals;
const auto t0 = claim_table::clock::time_point{} + 1000s;

TEST(claim_table, OneHolderAtATimeUntilExpiryOrLeaseEnd) {
  claim_table t;
  std::set<std::string> alive = {"a", "b"};
  auto is_alive = [&](const std::string& l) { return alive.count(l) != 0; };
  const claim_key k{"INBOX", 7, 42, {}};
  EXPECT_TRUE(t.claimable(k, t0, is_alive));
  ASSERT_TRUE(t.claim(k, "a", t0 + 10s));
  EXPECT_FALSE(t.claimable(k, t0 + 5s, is_alive)) << "held by a, for anyone (a included)";
  EXPECT_EQ(t.check(k, "a", t0 + 5s), claim_table::holder::this_lease);
  EXPECT_EQ(t.check(k, "b", t0 + 5s), claim_table::holder::other_lease);
  EXPECT_TRUE(t.claimable(k, t0 + 10s, is_alive)) << "expired";
  EXPECT_EQ(t.check(k, "a", t0 + 10s), claim_table::holder::expired);
  alive.erase("a");
  EXPECT_TRUE(t.claimable(k, t0 + 1s, is_alive)) << "its lease is gone";
  t.purge(t0 + 1s, is_alive);
  EXPECT_EQ(t.claims(), 0u);
}

TEST(claim_table, KeysIncludeFolderAndUidValidity) {
  claim_table t;
  auto all_alive = [](const std::string&) { return true; };
  ASSERT_TRUE(t.claim({"INBOX", 7, 42, {}}, "a", t0 + 10s));
  EXPECT_TRUE(t.claimable({"INBOX", 8, 42, {}}, t0, all_alive)) << "a recreated folder's uid 42 is another message";
  EXPECT_TRUE(t.claimable({"Other", 7, 42, {}}, t0, all_alive));
}

TEST(claim_table, AckedIsNeverClaimableAgainReleaseIsPerLease) {
  claim_table t;
  auto all_alive = [](const std::string&) { return true; };
  const claim_key k1{"INBOX", 1, 1, {}}, k2{"INBOX", 1, 2, {}};
  t.claim(k1, "a", t0 + 10s);
  t.claim(k2, "a", t0 + 10s);
  t.acked(k1);
  EXPECT_TRUE(t.is_acked(k1));
  EXPECT_FALSE(t.claimable(k1, t0 + 100s, all_alive));
  EXPECT_EQ(t.release("b", {k2}), 0u) << "b does not hold it";
  EXPECT_EQ(t.release("a", {k1, k2}), 1u);
  EXPECT_TRUE(t.claimable(k2, t0, all_alive));
}

}  // namespace
}  // namespace mailbroker::session
