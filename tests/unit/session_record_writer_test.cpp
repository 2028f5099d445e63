// Group commit of session records: many writers, one transaction per batch, every write
// durable (listed after reopening the store) before its completion runs.
#include "store/session_record_writer.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "store/secret_key.hpp"
#include "unit/store_test_support.hpp"

namespace mailbroker::store {
namespace {

using testing::temp_dir;

secret_key test_key() {
  return parse_key_text("8f1c2e3d4a5b6978a0b1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f50617", "test").value();
}

std::shared_ptr<state_store> open_store(const std::string& path) {
  auto s = state_store::open(path, test_key());
  EXPECT_TRUE(s.ok()) << s.err().message;
  return s.ok() ? std::shared_ptr<state_store>(std::move(*s)) : nullptr;
}

std::map<std::string, std::string> records_of(const std::string& path) {
  auto store = open_store(path);  // a second connection: sees only committed data
  auto list = store->list_sessions();
  EXPECT_TRUE(list.ok()) << list.err().message;
  std::map<std::string, std::string> out;
  if (list.ok()) {
    for (auto& [n, b] : *list) out[n] = b;
  }
  return out;
}

// Waits for `n` completions.
struct latch {
  std::mutex m;
  std::condition_variable cv;
  std::size_t left;
  explicit latch(std::size_t n) : left(n) {}
  void count_down() {
    std::lock_guard lock(m);
    if (--left == 0) cv.notify_all();
  }
  bool wait(std::chrono::seconds timeout) {
    std::unique_lock lock(m);
    return cv.wait_for(lock, timeout, [this] { return left == 0; });
  }
};

TEST(SessionRecordWriter, WritesQueuedTogetherShareOneCommit) {
  temp_dir dir;
  const auto path = dir.file("state.db");
  auto store = open_store(path);
  session_record_writer writer(store, {}, /*start_thread=*/false);
  constexpr int threads = 4, per_thread = 50;
  latch done(threads * per_thread);
  std::atomic<int> failures{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        writer.put("s" + std::to_string(t) + "-" + std::to_string(i), "spec " + std::to_string(i), [&](error e) {
          if (!e.ok()) ++failures;
          done.count_down();
        });
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_TRUE(records_of(path).empty()) << "nothing is written before the writer runs";
  writer.start();
  ASSERT_TRUE(done.wait(std::chrono::seconds(30)));
  EXPECT_EQ(failures.load(), 0);
  const auto c = writer.counters();
  EXPECT_EQ(c.writes, 200u);
  EXPECT_EQ(c.commits, 1u) << "200 queued writes fit one batch (max_batch 1000): one transaction";
  const auto records = records_of(path);
  EXPECT_EQ(records.size(), 200u);
  EXPECT_EQ(records.at("s3-49"), "spec 49");
}

TEST(SessionRecordWriter, ConcurrentWritersAreDurableWhenCompletedAndBatchesAreBounded) {
  temp_dir dir;
  const auto path = dir.file("state.db");
  auto store = open_store(path);
  session_record_writer writer(store, {.max_queued = 10000, .max_batch = 16});
  constexpr int threads = 6, per_thread = 40;
  std::atomic<int> failures{0}, missing{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        // Each writer waits for its own write, like a Connect waiting to answer.
        const std::string name = "w" + std::to_string(t) + "-" + std::to_string(i);
        latch one(1);
        writer.put(name, "x", [&](error e) {
          if (!e.ok()) ++failures;
          one.count_down();
        });
        ASSERT_TRUE(one.wait(std::chrono::seconds(30)));
        // Durable means visible to another connection the moment we are told.
        if (i % 10 == 0 && records_of(path).count(name) == 0) ++missing;
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(missing.load(), 0);
  const auto c = writer.counters();
  EXPECT_EQ(c.writes, static_cast<std::uint64_t>(threads * per_thread));
  EXPECT_LE(c.commits, c.writes);
  EXPECT_LE(c.largest_batch, 16u);
  EXPECT_EQ(records_of(path).size(), static_cast<std::size_t>(threads * per_thread));
}

TEST(SessionRecordWriter, AppliesPutsAndDeletesInOrder) {
  temp_dir dir;
  const auto path = dir.file("state.db");
  auto store = open_store(path);
  ASSERT_TRUE(store->put_session("old", "1").ok());
  session_record_writer writer(store, {}, false);
  latch done(4);
  auto count = [&](error e) {
    EXPECT_TRUE(e.ok()) << e.message;
    done.count_down();
  };
  writer.put("a", "1", count);
  writer.remove("a", count);  // same batch: the delete wins
  writer.remove("old", count);
  writer.put("b", "2", count);
  writer.start();
  ASSERT_TRUE(done.wait(std::chrono::seconds(30)));
  const auto records = records_of(path);
  EXPECT_EQ(records.size(), 1u);
  EXPECT_EQ(records.count("b"), 1u);
}

TEST(SessionRecordWriter, RefusesBeyondItsQueueBoundAndAfterStop) {
  temp_dir dir;
  auto store = open_store(dir.file("state.db"));
  session_record_writer writer(store, {.max_queued = 3, .max_batch = 10}, false);
  std::vector<errc> codes;
  std::mutex m;
  auto record = [&](error e) {
    std::lock_guard lock(m);
    codes.push_back(e.code);
  };
  for (int i = 0; i < 4; ++i) writer.put("n" + std::to_string(i), "x", record);
  ASSERT_EQ(codes.size(), 1u) << "the fourth is refused at once";
  EXPECT_EQ(codes[0], errc::resource_exhausted);
  writer.put("", "x", record);
  EXPECT_EQ(codes.back(), errc::invalid_argument);
  writer.start();
  writer.stop();  // applies the three queued first
  EXPECT_EQ(writer.counters().writes, 3u);
  writer.put("late", "x", record);
  EXPECT_EQ(codes.back(), errc::unavailable);
  std::lock_guard lock(m);
  EXPECT_EQ(std::count(codes.begin(), codes.end(), errc::ok), 3);
}

}  // namespace
}  // namespace mailbroker::store
