#include "session/operation_queue.hpp"

#include <gtest/gtest.h>

namespace mailbroker::session {
namespace {

TEST(operation_queue, RoundRobinBetweenLeasesFifoWithinOne) {
  operation_queue<std::string> q(10);
  for (const char* item : {"a1", "a2", "a3", "a4"}) ASSERT_TRUE(q.push("A", item));
  ASSERT_TRUE(q.push("B", "b1"));
  ASSERT_TRUE(q.push("C", "c1"));
  ASSERT_TRUE(q.push("B", "b2"));
  std::vector<std::string> order;
  while (auto item = q.pop()) order.push_back(*item);
  EXPECT_EQ(order, (std::vector<std::string>{"a1", "b1", "c1", "a2", "b2", "a3", "a4"}));
  EXPECT_TRUE(q.empty());
}

TEST(operation_queue, ALateLeaseIsServedNextNotAfterTheBacklog) {
  operation_queue<int> q(100);
  for (int i = 0; i < 50; ++i) q.push("busy", int{i});
  EXPECT_EQ(q.pop(), 0);
  q.push("small", 1000);
  // "busy" was served last: "small" goes next although 49 items are older.
  EXPECT_EQ(q.pop(), 1000);
  EXPECT_EQ(q.pop(), 1);
}

TEST(operation_queue, PopIfSkipsBusyLeasesAndKeepsTheirOrder) {
  operation_queue<std::string> q(10);
  q.push("A", "a1");
  q.push("A", "a2");
  q.push("B", "b1");
  q.push("C", "c1");
  auto not_a = [](const std::string& lease) { return lease != "A"; };
  EXPECT_EQ(q.pop_if(not_a), "b1");
  EXPECT_EQ(q.pop_if(not_a), "c1");
  EXPECT_EQ(q.pop_if(not_a), std::nullopt) << "only A's items are left, and A is busy";
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.pop(), "a1") << "A's items were skipped, not reordered";
  EXPECT_EQ(q.pop(), "a2");
  EXPECT_TRUE(q.empty());
}

TEST(operation_queue, BoundedPerLease) {
  operation_queue<std::string> q(2);
  std::string x = "x";
  EXPECT_TRUE(q.push("A", std::string("1")));
  EXPECT_TRUE(q.push("A", std::string("2")));
  EXPECT_FALSE(q.push("A", std::move(x)));
  EXPECT_EQ(x, "x") << "a refused item is left to the caller (to fail it)";
  EXPECT_TRUE(q.push("B", std::string("3"))) << "the bound is per lease";
  EXPECT_EQ(q.size(), 3u);
}

TEST(operation_queue, DrainReturnsEverythingAndEmpties) {
  operation_queue<int> q(5);
  q.push("A", 1);
  q.push("B", 2);
  q.push("A", 3);
  auto all = q.drain();
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.pop().has_value());
}

}  // namespace
}  // namespace mailbroker::session
