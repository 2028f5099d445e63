#include "session/message_cache.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace mailbroker::session {
namespace {

mailbox::message_summary summary_of(std::uint32_t uid, std::string subject = "s") {
  mailbox::message_summary m;
  m.uid = uid;
  m.subject = std::move(subject);
  m.size = 100;
  return m;
}

TEST(message_cache, BodiesAreKeptPerFolderUidValidityAndUid) {
  message_cache cache({}, nullptr);
  cache.put_body("INBOX", 7, 1, "one");
  ASSERT_NE(cache.body("INBOX", 7, 1), nullptr);
  EXPECT_EQ(*cache.body("INBOX", 7, 1), "one");
  EXPECT_EQ(cache.body("INBOX", 8, 1), nullptr) << "another UIDVALIDITY is another message";
  EXPECT_EQ(cache.body("Archive", 7, 1), nullptr);
  EXPECT_EQ(cache.body("INBOX", 7, 2), nullptr);
  cache.put_body("INBOX", 0, 3, "x");
  EXPECT_EQ(cache.body("INBOX", 0, 3), nullptr) << "without a UIDVALIDITY nothing is kept";
}

TEST(message_cache, BodiesAboveTheLimitAreNotKept) {
  cache_limits limits;
  limits.max_body_bytes = 10;
  message_cache cache(limits, nullptr);
  cache.put_body("INBOX", 1, 1, std::string(11, 'x'));
  cache.put_body("INBOX", 1, 2, std::string(10, 'x'));
  EXPECT_EQ(cache.body("INBOX", 1, 1), nullptr);
  EXPECT_NE(cache.body("INBOX", 1, 2), nullptr);
}

TEST(message_cache, SessionBudgetEvictsTheLeastRecentlyUsed) {
  cache_limits limits;
  limits.session_bytes = 3 * (1000 + 400);
  message_cache cache(limits, nullptr);
  for (std::uint32_t uid = 1; uid <= 3; ++uid) cache.put_body("INBOX", 1, uid, std::string(1000, 'a'));
  ASSERT_NE(cache.body("INBOX", 1, 1), nullptr);  // 1 is now the most recently used
  for (std::uint32_t uid = 4; uid <= 5; ++uid) cache.put_body("INBOX", 1, uid, std::string(1000, 'a'));
  EXPECT_NE(cache.body("INBOX", 1, 1), nullptr);
  EXPECT_EQ(cache.body("INBOX", 1, 2), nullptr) << "least recently used goes first";
  EXPECT_NE(cache.body("INBOX", 1, 5), nullptr);
  EXPECT_LE(cache.stats().bytes, limits.session_bytes);
}

TEST(message_cache, TheDaemonBudgetIsSharedAndGivenBack) {
  auto budget = std::make_shared<cache_budget>(5000);
  {
    message_cache a({}, budget);
    message_cache b({}, budget);
    for (std::uint32_t uid = 1; uid <= 3; ++uid) a.put_body("INBOX", 1, uid, std::string(1000, 'a'));
    EXPECT_GT(budget->used(), 3000u);
    // b cannot take from a: it keeps what fits after evicting only its own entries.
    for (std::uint32_t uid = 1; uid <= 5; ++uid) b.put_body("INBOX", 1, uid, std::string(1000, 'b'));
    EXPECT_LE(budget->used(), budget->limit());
    EXPECT_NE(a.body("INBOX", 1, 3), nullptr) << "one session's cache never evicts another's";
    EXPECT_EQ(budget->used(), a.stats().bytes + b.stats().bytes);
  }
  EXPECT_EQ(budget->used(), 0u) << "a closed session gives its bytes back";
}

TEST(message_cache, ZeroSessionBytesKeepsNothing) {
  cache_limits limits;
  limits.session_bytes = 0;
  message_cache cache(limits, nullptr);
  cache.put_body("INBOX", 1, 1, "x");
  cache.put_summary("INBOX", 1, summary_of(1));
  EXPECT_EQ(cache.body("INBOX", 1, 1), nullptr);
  EXPECT_EQ(cache.summary("INBOX", 1, 1), nullptr);
}

TEST(message_cache, SelectingANewUidValidityDropsTheFolderOldEntries) {
  message_cache cache({}, nullptr);
  cache.selected("INBOX", 1);
  cache.put_body("INBOX", 1, 1, "old");
  cache.put_body("Other", 1, 1, "other");
  EXPECT_EQ(cache.selected_uid_validity("INBOX"), 1u);
  EXPECT_EQ(cache.selected_uid_validity("Other"), std::nullopt) << "only the selected folder";
  cache.selected("INBOX", 2);
  EXPECT_EQ(cache.stats().entries, 1u);
  EXPECT_NE(cache.body("Other", 1, 1), nullptr);
  cache.connection_reset();
  EXPECT_EQ(cache.selected_uid_validity("INBOX"), std::nullopt) << "no connection, no selected folder";
}

TEST(message_cache, ForgetDropsMovedOrDeletedMessages) {
  message_cache cache({}, nullptr);
  cache.put_body("INBOX", 1, 1, "a");
  cache.put_summary("INBOX", 1, summary_of(2));
  cache.forget("INBOX", 1, {1, 2, 3});
  EXPECT_EQ(cache.body("INBOX", 1, 1), nullptr);
  EXPECT_EQ(cache.summary("INBOX", 1, 2), nullptr);
  EXPECT_EQ(cache.stats().bytes, 0u);
}

TEST(message_cache, WantedUidsAreTakenOncePerFolderOldestFirst) {
  cache_limits limits;
  limits.max_wanted = 3;
  message_cache cache(limits, nullptr);
  cache.want("INBOX", 5);
  cache.want("Other", 6);
  cache.want("INBOX", 5);  // once
  cache.want("INBOX", 7);
  cache.want("INBOX", 8);  // over the bound: the oldest (5) is forgotten
  EXPECT_EQ(cache.take_wanted("INBOX", 10), (std::vector<std::uint32_t>{7, 8}));
  EXPECT_TRUE(cache.take_wanted("INBOX", 10).empty());
  EXPECT_EQ(cache.take_wanted("Other", 1), (std::vector<std::uint32_t>{6}));
}

TEST(message_cache, AListIsReusedOnlyByCallsMadeBeforeItStarted) {
  message_cache cache({}, nullptr);
  const auto t0 = message_cache::clock::now();
  const auto t1 = t0 + std::chrono::milliseconds(5);
  mailbox::message_page page;
  page.total_matching = 42;
  cache.put_list("k", t1, page);
  auto reused = cache.list_since("k", t0);
  ASSERT_TRUE(reused.has_value()) << "a call made at t0 may take a listing started at t1";
  EXPECT_EQ(reused->total_matching, 42u);
  EXPECT_FALSE(cache.list_since("k", t1 + std::chrono::milliseconds(1)).has_value())
      << "a call made after the listing started must ask the server";
  EXPECT_FALSE(cache.list_since("other", t0).has_value());
  cache.forget_lists();
  EXPECT_FALSE(cache.list_since("k", t0).has_value()) << "a change made through the session makes lists stale";
}

TEST(message_cache, AnOlderListingNeverReplacesANewerOne) {
  message_cache cache({}, nullptr);
  const auto t0 = message_cache::clock::now();
  mailbox::message_page newer, older;
  newer.total_matching = 2;
  older.total_matching = 1;
  cache.put_list("k", t0 + std::chrono::milliseconds(10), newer);
  cache.put_list("k", t0, older);
  EXPECT_EQ(cache.list_since("k", t0)->total_matching, 2u);
}

TEST(message_cache, AListIsTakenAtTheSameMailboxVersionOnlyAndThenCountsAsStartedAgain) {
  message_cache cache({}, nullptr);
  const auto t0 = message_cache::clock::now();
  mailbox::message_page page;
  page.total_matching = 7;
  cache.put_list("k", t0, page, "1/201/200/412");
  EXPECT_FALSE(cache.list_at_version("k", "1/201/200/413", t0).has_value()) << "another version";
  EXPECT_FALSE(cache.list_at_version("other", "1/201/200/412", t0).has_value()) << "another query";
  EXPECT_FALSE(cache.list_at_version("k", "", t0).has_value()) << "an unknown version matches nothing";

  const auto t1 = t0 + std::chrono::milliseconds(20);
  EXPECT_FALSE(cache.list_since("k", t1).has_value());
  auto same = cache.list_at_version("k", "1/201/200/412", t1);
  ASSERT_TRUE(same.has_value());
  EXPECT_EQ(same->total_matching, 7u);
  EXPECT_TRUE(cache.list_since("k", t1).has_value()) << "calls made up to t1 may take it now";
  EXPECT_EQ(cache.stats().list_unchanged, 1u);

  cache.put_list("u", t0, page);  // listed without a version (no CONDSTORE)
  EXPECT_FALSE(cache.list_at_version("u", "", t1).has_value());
  cache.forget_lists();
  EXPECT_FALSE(cache.list_at_version("k", "1/201/200/412", t1).has_value());
}

TEST(message_cache, ListsAreBounded) {
  cache_limits limits;
  limits.max_list_results = 2;
  message_cache cache(limits, nullptr);
  const auto t0 = message_cache::clock::now();
  cache.put_list("a", t0, {});
  cache.put_list("b", t0 + std::chrono::milliseconds(1), {});
  cache.put_list("c", t0 + std::chrono::milliseconds(2), {});
  EXPECT_FALSE(cache.list_since("a", t0).has_value()) << "the oldest listing makes room";
  EXPECT_TRUE(cache.list_since("c", t0).has_value());
}

TEST(message_cache, RememberedListsCountAgainstTheBudgets) {
  auto budget = std::make_shared<cache_budget>(1u << 20);
  message_cache cache({}, budget);
  mailbox::message_page page;
  for (std::uint32_t uid = 1; uid <= 100; ++uid) page.messages.push_back(summary_of(uid, std::string(200, 's')));
  const auto t0 = message_cache::clock::now();
  cache.put_list("k", t0, page);
  const auto one_page = cache.stats().bytes;
  EXPECT_GT(one_page, 100u * 200u) << "a remembered page is not free";
  EXPECT_EQ(budget->used(), one_page);
  cache.put_list("k", t0 + std::chrono::milliseconds(1), page);
  EXPECT_EQ(cache.stats().bytes, one_page) << "a newer listing replaces the older one";
  cache.forget_lists();
  EXPECT_EQ(cache.stats().bytes, 0u);
  EXPECT_EQ(budget->used(), 0u);

  cache_limits tiny;
  tiny.session_bytes = 1000;
  message_cache small(tiny, nullptr);
  small.put_list("k", t0, page);
  EXPECT_FALSE(small.list_since("k", t0).has_value()) << "a page larger than the budget is not remembered";
}

TEST(message_cache, ItemBodiesAreKeptPerIdAndVersion) {
  message_cache cache({}, nullptr);
  cache.put_item_body("AAMk1", "CQ1", "version one");
  ASSERT_NE(cache.item_body("AAMk1", "CQ1"), nullptr);
  EXPECT_EQ(*cache.item_body("AAMk1", "CQ1"), "version one");
  EXPECT_TRUE(cache.contains_item_body("AAMk1", "CQ1"));
  EXPECT_EQ(cache.item_body("AAMk1", "CQ2"), nullptr) << "another change key is another version of the item";
  EXPECT_EQ(cache.item_body("AAMk2", "CQ1"), nullptr);
  cache.put_item_body("AAMk1", "CQ1", "something else");
  EXPECT_EQ(*cache.item_body("AAMk1", "CQ1"), "version one") << "a version's bytes never change";
  cache.put_item_body("AAMk3", "", "x");
  EXPECT_EQ(cache.item_body("AAMk3", ""), nullptr) << "without a version nothing is kept";
  cache.put_item_body("", "CQ1", "x");
  EXPECT_EQ(cache.item_body("", "CQ1"), nullptr);
  const auto s = cache.stats();
  EXPECT_EQ(s.entries, 1u);
  EXPECT_GE(s.body_hits, 3u);
  EXPECT_GE(s.body_misses, 4u);
}

TEST(message_cache, ItemKeysNeverMeetUidKeys) {
  message_cache cache({}, nullptr);
  // A uid key is folder \0 validity / uid: an item named like one must not find it.
  cache.put_body("INBOX", 7, 1, "uid message");
  EXPECT_EQ(cache.item_body("INBOX", std::string("7/1")), nullptr);
  cache.put_item_body("INBOX", "7/1", "item");
  EXPECT_EQ(*cache.body("INBOX", 7, 1), "uid message");
  EXPECT_EQ(*cache.item_body("INBOX", "7/1"), "item");
  cache.selected("INBOX", 8);  // drops INBOX's uid entries of validity 7, no item
  EXPECT_EQ(cache.body("INBOX", 7, 1), nullptr);
  EXPECT_NE(cache.item_body("INBOX", "7/1"), nullptr) << "a folder's new UIDVALIDITY says nothing about items";
  cache.connection_reset();
  EXPECT_NE(cache.item_body("INBOX", "7/1"), nullptr) << "item ids outlive connections";
}

TEST(message_cache, ItemBodiesShareTheLimitsAndTheLru) {
  cache_limits limits;
  limits.max_body_bytes = 1000;
  limits.session_bytes = 3 * (1000 + 400);
  auto budget = std::make_shared<cache_budget>(1u << 20);
  {
    message_cache cache(limits, budget);
    cache.put_item_body("big", "v", std::string(1001, 'x'));
    EXPECT_EQ(cache.item_body("big", "v"), nullptr) << "above max_body_bytes";
    for (const char* id : {"a", "b", "c"}) cache.put_item_body(id, "v", std::string(1000, 'x'));
    ASSERT_NE(cache.item_body("a", "v"), nullptr);  // a is now the most recently used
    cache.put_body("INBOX", 1, 1, std::string(1000, 'x'));
    EXPECT_NE(cache.item_body("a", "v"), nullptr);
    EXPECT_EQ(cache.item_body("b", "v"), nullptr) << "uid and item entries share one LRU";
    EXPECT_LE(cache.stats().bytes, limits.session_bytes);
    EXPECT_EQ(budget->used(), cache.stats().bytes);
  }
  EXPECT_EQ(budget->used(), 0u);
}

TEST(message_cache, ItemSizesFromListingsAreKeptUntilABodyComes) {
  message_cache cache({}, nullptr);
  EXPECT_EQ(cache.item_size("a", "v1"), std::nullopt);
  cache.put_item_size("a", "v1", 4242);
  EXPECT_EQ(cache.item_size("a", "v1"), 4242u);
  EXPECT_EQ(cache.item_size("a", "v2"), std::nullopt);
  EXPECT_FALSE(cache.contains_item_body("a", "v1")) << "a size is no body";
  EXPECT_EQ(cache.item_body("a", "v1"), nullptr);
  cache.put_item_body("b", "v1", "12345");
  EXPECT_EQ(cache.item_size("b", "v1"), 5u) << "a body knows its size";
  cache.put_item_size("b", "v1", 99);
  EXPECT_EQ(cache.item_size("b", "v1"), 5u);
  cache.put_item_body("a", "v1", "123");
  EXPECT_TRUE(cache.contains_item_body("a", "v1")) << "a body joins the size's entry";
  EXPECT_EQ(cache.stats().entries, 2u);
}

TEST(message_cache, ForgetItemsDropsEveryVersionAndTheLists) {
  auto budget = std::make_shared<cache_budget>(1u << 20);
  message_cache cache({}, budget);
  cache.put_item_body("a", "v1", "one");
  cache.put_item_body("a", "v2", "two");
  cache.put_item_size("a", "v3", 10);
  cache.put_item_body("b", "v1", "kept");
  cache.put_body("INBOX", 1, 1, "uid");
  cache.want_item("a", "v2");
  cache.want_item("b", "v1");
  const auto t0 = message_cache::clock::now();
  cache.put_list("k", t0, {});
  cache.forget_items({"a", "nothing-like-it"});
  EXPECT_EQ(cache.item_body("a", "v1"), nullptr);
  EXPECT_EQ(cache.item_body("a", "v2"), nullptr);
  EXPECT_EQ(cache.item_size("a", "v3"), std::nullopt);
  EXPECT_NE(cache.item_body("b", "v1"), nullptr);
  EXPECT_NE(cache.body("INBOX", 1, 1), nullptr);
  EXPECT_FALSE(cache.list_since("k", t0).has_value()) << "a move or delete makes remembered lists stale";
  EXPECT_EQ(cache.take_wanted_items(10), (std::vector<std::pair<std::string, std::string>>{{"b", "v1"}}))
      << "a forgotten item is wanted no more";
  EXPECT_EQ(cache.stats().entries, 2u);
  EXPECT_EQ(budget->used(), cache.stats().bytes);
}

TEST(message_cache, WantedItemsAreTakenOnceOldestFirstAndBounded) {
  cache_limits limits;
  limits.max_wanted = 3;
  message_cache cache(limits, nullptr);
  cache.want_item("a", "v");
  cache.want_item("b", "v");
  cache.want_item("a", "v");  // once
  cache.want_item("a", "w");  // another version is another body
  cache.want_item("c", "v");  // over the bound: the oldest (a v) is forgotten
  cache.want_item("", "v");
  cache.want_item(std::string(max_wanted_item_bytes, 'x'), "v");  // too long to remember
  using pairs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(cache.take_wanted_items(2), (pairs{{"b", "v"}, {"a", "w"}}));
  EXPECT_EQ(cache.take_wanted_items(10), (pairs{{"c", "v"}}));
  EXPECT_TRUE(cache.take_wanted_items(10).empty());
  cache.want("INBOX", 5);
  EXPECT_TRUE(cache.take_wanted_items(10).empty()) << "wanted uids are not wanted items";
}

TEST(message_cache, ConcurrentReadersAndWritersStayWithinBudget) {
  auto budget = std::make_shared<cache_budget>(64 * 1024);
  message_cache cache({}, budget);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, t] {
      for (std::uint32_t i = 0; i < 2000; ++i) {
        const std::uint32_t uid = (i * 7 + static_cast<std::uint32_t>(t)) % 300 + 1;
        cache.put_body("INBOX", 1, uid, std::string(500, 'x'));
        if (auto b = cache.body("INBOX", 1, uid)) {
          EXPECT_EQ(b->size(), 500u);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_LE(budget->used(), budget->limit());
  EXPECT_EQ(budget->used(), cache.stats().bytes);
}

}  // namespace
}  // namespace mailbroker::session
