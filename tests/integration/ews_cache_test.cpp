// Fewer EWS requests when many bots share one EWS session (issue 9 / 11), against the fake
// EWS server: identical listings share one FindItem, a body is fetched once per (item id,
// change key) and kept in the session's message cache, concurrent reads of waiting bots
// go out in one GetItem. What the server was asked is read from the fake's request log,
// by operation; what the bots got is compared with what was delivered.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "support/ews_session_fixture.hpp"

namespace mailbroker::testing {
namespace {

using namespace std::chrono_literals;

// Releases waiting threads together, so their calls reach the daemon at about one time.
class start_line {
 public:
  void wait() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return open_; });
  }
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

class ews_cache : public ews_fixture {
 protected:
  std::string session_name(const std::string& suffix = {}) {
    return "ews-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + suffix;
  }

  // How many requests of `operation` (FindItem, GetItem, ...) the fake answered so far.
  int asked(const std::string& operation) {
    int n = 0;
    for (const auto& r : nlohmann::json::parse(ews().requests())) {
      if (r.value("operation", "") == operation) ++n;
    }
    return n;
  }

  // The SOAP bodies of the GetItem requests so far.
  std::vector<std::string> get_item_bodies() {
    std::vector<std::string> out;
    for (const auto& r : nlohmann::json::parse(ews().requests())) {
      if (r.value("operation", "") == "GetItem") out.push_back(r.value("body", ""));
    }
    return out;
  }

  pb::ListMessagesRequest newest_unread(std::uint32_t limit) {
    pb::ListMessagesRequest request;
    request.set_folder("INBOX");
    request.set_read(pb::READ_FILTER_UNREAD);
    request.set_order(pb::LIST_ORDER_NEWEST_FIRST);
    request.set_limit(limit);
    return request;
  }

  // Delivers `n` messages "<prefix>-i"; returns their bytes by subject.
  std::map<std::string, std::string> deliver_many(int n, const std::string& prefix) {
    std::map<std::string, std::string> out;
    for (int i = 0; i < n; ++i) {
      const std::string subject = prefix + "-" + std::to_string(i);
      const std::string bytes = message(subject, "Body of " + subject + ".");
      deliver_bytes(bytes);
      out.emplace(subject, bytes);
    }
    return out;
  }
};

TEST_F(ews_cache, EwsConcurrentIdenticalListsShareFindItemsAndEveryCallerGetsTheWholePage) {
  const auto delivered = deliver_many(12, "listed");
  const auto lease = connect(ews_request(session_name()));
  ASSERT_FALSE(lease.empty());
  // Slow answers: while one FindItem is out, the other calls are all waiting.
  ews().set_delay(200);
  const int finds_before = asked("FindItem");

  constexpr int callers = 8;
  start_line line;
  std::vector<pb::ListMessagesResponse> pages(callers);
  std::vector<grpc::Status> statuses(callers);
  std::vector<std::thread> threads;
  for (int i = 0; i < callers; ++i) {
    threads.emplace_back([&, i] {
      line.wait();
      pages[i] = list(lease, newest_unread(100), &statuses[i]);
    });
  }
  line.open();
  for (auto& t : threads) t.join();

  const int finds = asked("FindItem") - finds_before;
  std::printf("%d identical listings cost %d FindItem requests\n", callers, finds);
  EXPECT_LT(finds, callers) << "identical concurrent listings must share FindItems";
  EXPECT_GE(finds, 1);
  for (int i = 0; i < callers; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << i << ": " << statuses[i].error_message();
    ASSERT_EQ(pages[i].messages_size(), 12) << "caller " << i << " got the whole page";
    EXPECT_EQ(pages[i].total_matching(), 12u);
    for (int m = 0; m < 12; ++m) {
      EXPECT_TRUE(delivered.count(pages[i].messages(m).subject())) << pages[i].messages(m).subject();
      EXPECT_EQ(pages[i].messages(m).ref().item_id(), pages[0].messages(m).ref().item_id()) << "same order for all";
    }
  }

  // A call made after those listings ended asks the server again: it sees a new arrival.
  ews().set_delay(0);
  deliver("after-the-listings");
  const auto later = list(lease, newest_unread(100));
  ASSERT_EQ(later.messages_size(), 13);
  EXPECT_EQ(later.messages(0).subject(), "after-the-listings") << "never an answer older than the call";
  EXPECT_EQ(asked("FindItem") - finds_before, finds + 1);
}

TEST_F(ews_cache, EwsASecondReadOfTheSameRefCostsNoGetItem) {
  const auto delivered = deliver_many(3, "read-twice");
  const auto lease = connect(ews_request(session_name()));
  ASSERT_FALSE(lease.empty());
  const auto page = list(lease, newest_unread(10));
  ASSERT_EQ(page.messages_size(), 3);
  const auto& first = page.messages(0);
  ASSERT_FALSE(first.ref().change_key().empty()) << "listings give change keys";

  const int gets_before = asked("GetItem");
  std::string once, twice;
  ASSERT_TRUE(fetch(lease, first.ref(), &once).ok());
  EXPECT_EQ(once, delivered.at(first.subject()));
  EXPECT_EQ(asked("GetItem"), gets_before + 1);
  ASSERT_TRUE(fetch(lease, first.ref(), &twice).ok());
  EXPECT_EQ(twice, once);
  EXPECT_EQ(asked("GetItem"), gets_before + 1) << "the second read of the same version comes from the cache";

  // Without a change key the version is unknown: the server is asked (and its answer kept).
  std::string unversioned;
  ASSERT_TRUE(fetch(lease, item(first.ref().item_id()), &unversioned).ok());
  EXPECT_EQ(unversioned, once);
  EXPECT_EQ(asked("GetItem"), gets_before + 2);

  // Another session has its own cache: its first read asks the server.
  auto other = ews_request(session_name("-other"));
  const auto other_lease = connect(other);
  ASSERT_FALSE(other_lease.empty());
  std::string elsewhere;
  ASSERT_TRUE(fetch(other_lease, first.ref(), &elsewhere).ok());
  EXPECT_EQ(elsewhere, once);
  EXPECT_EQ(asked("GetItem"), gets_before + 3);
}

TEST_F(ews_cache, EwsAfterSetFlagsTheNewChangeKeyStillReadsTheRightBody) {
  const auto delivered = deliver_many(1, "flagged");
  const auto lease = connect(ews_request(session_name()));
  ASSERT_FALSE(lease.empty());
  const auto before = summary_of(lease, "flagged-0");
  ASSERT_FALSE(before.ref().item_id().empty());
  std::string bytes;
  ASSERT_TRUE(fetch(lease, before.ref(), &bytes).ok());
  ASSERT_EQ(bytes, delivered.at("flagged-0"));

  ASSERT_TRUE(set_flags(lease, {before.ref()}, true, std::nullopt).ok());
  const auto after = summary_of(lease, "flagged-0");
  EXPECT_EQ(after.ref().item_id(), before.ref().item_id());
  EXPECT_NE(after.ref().change_key(), before.ref().change_key()) << "a change gives the item a new change key";
  EXPECT_TRUE(after.seen());
  std::string again;
  ASSERT_TRUE(fetch(lease, after.ref(), &again).ok());
  EXPECT_EQ(again, delivered.at("flagged-0"));
}

TEST_F(ews_cache, EwsAnItemChangedByAnotherClientIsReadAgainUnderItsNewChangeKey) {
  const auto delivered = deliver_many(1, "changed");
  const auto lease = connect(ews_request(session_name()));
  const auto other = connect(ews_request(session_name("-other-client")));  // its own connection and cache
  ASSERT_FALSE(lease.empty());
  ASSERT_FALSE(other.empty());
  const auto old_version = summary_of(lease, "changed-0");
  std::string bytes;
  ASSERT_TRUE(fetch(lease, old_version.ref(), &bytes).ok());
  ASSERT_EQ(bytes, delivered.at("changed-0"));

  // Another client marks it read: the item has a new change key our cache never saw.
  ASSERT_TRUE(set_flags(other, {item(old_version.ref().item_id())}, true, true).ok());
  const auto new_version = summary_of(lease, "changed-0");
  ASSERT_NE(new_version.ref().change_key(), old_version.ref().change_key());
  EXPECT_TRUE(new_version.seen());
  EXPECT_EQ(find_item("alice", old_version.ref().item_id()).at("flag"), "Flagged");

  const int gets_before = asked("GetItem");
  std::string fresh;
  ASSERT_TRUE(fetch(lease, new_version.ref(), &fresh).ok());
  EXPECT_EQ(fresh, delivered.at("changed-0"));
  EXPECT_EQ(asked("GetItem"), gets_before + 1) << "the new version is not in the cache: it is read from the server";
  const auto bodies = get_item_bodies();
  ASSERT_FALSE(bodies.empty());
  EXPECT_NE(bodies.back().find(new_version.ref().item_id()), std::string::npos);
  // And from then on from the cache.
  std::string cached;
  ASSERT_TRUE(fetch(lease, new_version.ref(), &cached).ok());
  EXPECT_EQ(cached, fresh);
  EXPECT_EQ(asked("GetItem"), gets_before + 1);
}

TEST_F(ews_cache, EwsMovedOrDeletedItemsAreNotServedFromTheCache) {
  deliver_many(3, "gone");
  deliver("already archived", "Archive");  // makes the folder
  const auto lease = connect(ews_request(session_name()));
  ASSERT_FALSE(lease.empty());
  const auto moved = summary_of(lease, "gone-0");
  const auto deleted = summary_of(lease, "gone-1");
  const auto hard_deleted = summary_of(lease, "gone-2");
  for (const auto* m : {&moved, &deleted, &hard_deleted}) {
    std::string bytes;
    ASSERT_TRUE(fetch(lease, m->ref(), &bytes).ok()) << m->subject();
    ASSERT_FALSE(bytes.empty());
  }

  {
    pb::MoveMessagesRequest request;
    request.set_lease_id(lease);
    request.set_folder("INBOX");
    *request.add_refs() = moved.ref();
    request.set_target_folder("Archive");
    grpc::ClientContext context;
    pb::MoveMessagesResponse response;
    const auto st = mailbox_->MoveMessages(&context, request, &response);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  for (const auto& [m, permanent] : {std::pair{&deleted, false}, std::pair{&hard_deleted, true}}) {
    pb::DeleteMessagesRequest request;
    request.set_lease_id(lease);
    request.set_folder("INBOX");
    *request.add_refs() = m->ref();
    request.set_permanent(permanent);
    grpc::ClientContext context;
    pb::DeleteMessagesResponse response;
    ASSERT_TRUE(mailbox_->DeleteMessages(&context, request, &response).ok()) << m->subject();
  }

  const int gets_before = asked("GetItem");
  for (const auto* m : {&moved, &deleted, &hard_deleted}) {
    std::string bytes;
    const auto st = fetch(lease, m->ref(), &bytes);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << m->subject() << ": " << st.error_message();
    EXPECT_TRUE(bytes.empty()) << m->subject() << " was served after it was moved or deleted";
  }
  EXPECT_EQ(asked("GetItem"), gets_before + 3) << "each was asked of the server, none answered from the cache";
}

TEST_F(ews_cache, EwsWaitingReadsGoOutInOneGetItemAndAMissingItemFailsOnlyItsOwnCall) {
  constexpr int readers = 8;
  const auto delivered = deliver_many(readers, "batched");
  const auto lease = connect(ews_request(session_name()));
  const auto other = connect(ews_request(session_name("-other-client")));
  ASSERT_FALSE(lease.empty());
  ASSERT_FALSE(other.empty());
  const auto page = list(lease, newest_unread(100));  // the sizes a batch is chosen by
  ASSERT_EQ(page.messages_size(), readers);
  // One item disappears behind the session's back (another client deletes it for good).
  const auto missing = page.messages(3).ref();
  {
    pb::DeleteMessagesRequest request;
    request.set_lease_id(other);
    request.set_folder("INBOX");
    *request.add_refs() = item(missing.item_id());
    request.set_permanent(true);
    grpc::ClientContext context;
    pb::DeleteMessagesResponse response;
    ASSERT_TRUE(mailbox_->DeleteMessages(&context, request, &response).ok());
  }
  ews().set_delay(300);  // while one GetItem is out, the other reads queue up (and are wanted)
  const int gets_before = asked("GetItem");

  start_line line;
  std::vector<std::string> bodies(readers);
  std::vector<grpc::Status> statuses(readers);
  std::vector<std::thread> threads;
  for (int i = 0; i < readers; ++i) {
    threads.emplace_back([&, i] {
      line.wait();
      statuses[i] = fetch(lease, page.messages(i).ref(), &bodies[i]);
    });
  }
  line.open();
  for (auto& t : threads) t.join();

  for (int i = 0; i < readers; ++i) {
    if (i == 3) {
      EXPECT_EQ(statuses[i].error_code(), grpc::StatusCode::NOT_FOUND) << statuses[i].error_message();
      continue;
    }
    ASSERT_TRUE(statuses[i].ok()) << i << ": " << statuses[i].error_message();
    EXPECT_EQ(bodies[i], delivered.at(page.messages(i).subject())) << i;
  }
  const auto requests = get_item_bodies();
  const int gets = asked("GetItem") - gets_before;
  std::printf("%d reads cost %d GetItem requests\n", readers, gets);
  EXPECT_LT(gets, readers) << "waiting reads share GetItems";
  int most_ids = 0;
  for (std::size_t r = requests.size() - static_cast<std::size_t>(gets); r < requests.size(); ++r) {
    int ids = 0;
    for (auto at = requests[r].find("<t:ItemId"); at != std::string::npos; at = requests[r].find("<t:ItemId", at + 1)) {
      ++ids;
    }
    most_ids = std::max(most_ids, ids);
  }
  EXPECT_GT(most_ids, 1) << "one GetItem brought several bodies";
}

}  // namespace
}  // namespace mailbroker::testing
