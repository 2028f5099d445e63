// Throttling on Graph sessions (issue 12, "Throttling is the point"): Exchange Online serves
// at most 4 requests at once per app and mailbox and answers more with 429 + Retry-After.
// Many bots (leases) on one session stay inside that budget (the fake counts what it had in
// flight per mailbox, and throttles beyond its limit); against a mailbox with a smaller
// budget every bot still succeeds because the session waits out Retry-After and retries; a
// 429 that never stops becomes UNAVAILABLE after the retries. Status shows it all.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <mutex>
#include <thread>

#include "support/eventually.hpp"
#include "support/graph_session_fixture.hpp"

namespace mailbroker::testing {
namespace {

using namespace std::chrono_literals;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

constexpr int bots = 8;
constexpr int messages = 2 * bots;

class graph_throttle : public graph_fixture {
 protected:
  struct load_result {
    int ok_calls = 0;
    std::vector<std::string> errors;
    std::uint32_t max_status_in_flight = 0;  // the highest Status http.in_flight seen during the load
    std::uint32_t status_max_in_flight = 0;  // Status http.max_in_flight during the load
  };

  // Delivers the messages the bots read.
  void deliver_jobs() {
    for (int i = 0; i < messages; ++i) deliver("job-" + std::to_string(i));
  }

  // Eight bots, each with a lease of its own on `session`, at once: each lists the Inbox
  // (its own page size, so no two listings are the same call the session could share),
  // then reads two messages no other bot reads. Status is sampled meanwhile.
  load_result run_load(const pb::ConnectRequest& request) {
    std::vector<std::string> leases;
    for (int b = 0; b < bots; ++b) leases.push_back(connect(request));
    load_result out;
    for (const auto& l : leases) {
      if (l.empty()) {
        out.errors.push_back("no lease");
        return out;
      }
    }
    std::atomic<bool> done{false};
    std::thread sampler([&] {
      while (!done) {
        const auto s = status_of(request.session());
        out.max_status_in_flight = std::max(out.max_status_in_flight, s.http().in_flight());
        out.status_max_in_flight = s.http().max_in_flight();
        std::this_thread::sleep_for(20ms);
      }
    });
    std::mutex mutex;
    std::vector<std::future<void>> running;
    for (int b = 0; b < bots; ++b) {
      running.push_back(std::async(std::launch::async, [&, b] {
        auto note = [&](const grpc::Status& st, const std::string& what) {
          std::lock_guard lock(mutex);
          if (st.ok()) {
            ++out.ok_calls;
          } else {
            out.errors.push_back("bot " + std::to_string(b) + " " + what + ": " + std::to_string(st.error_code()) +
                                 " " + st.error_message());
          }
        };
        pb::ListMessagesRequest page_request;
        page_request.set_folder("INBOX");
        page_request.set_limit(static_cast<std::uint32_t>(messages + b));
        grpc::Status st;
        const auto page = list(leases[b], page_request, &st);
        note(st, "list");
        if (!st.ok()) return;
        if (page.messages_size() != messages) {
          std::lock_guard lock(mutex);
          out.errors.push_back("bot " + std::to_string(b) + " listed " + std::to_string(page.messages_size()));
          return;
        }
        for (int k = 0; k < 2; ++k) {
          std::string raw;
          st = fetch(leases[b], page.messages(2 * b + k).ref(), &raw);
          note(st, "read");
          if (st.ok() && !contains(raw, "Subject: job-")) {
            std::lock_guard lock(mutex);
            out.errors.push_back("bot " + std::to_string(b) + " read something else");
          }
        }
      }));
    }
    for (auto& r : running) r.get();
    done = true;
    sampler.join();
    return out;
  }
};

TEST_F(graph_throttle, EightBotsStayWithinFourRequestsInFlightPerMailbox) {
  deliver_jobs();
  const auto request = app_request("graph-eight-bots");
  // Every request is held 300 ms at the server: eight bots at once overlap only if the
  // session sends their requests side by side.
  graph().set_delay(300);
  const auto result = run_load(request);
  graph().set_delay(0);
  EXPECT_TRUE(result.errors.empty()) << result.errors.front();
  EXPECT_EQ(result.ok_calls, bots * 3);

  const auto max = graph().max_in_flight("alice");
  EXPECT_LE(max, 4) << "Exchange Online's 4 concurrent requests per mailbox";
  EXPECT_GE(max, 2) << "the bots' requests went side by side, not one at a time";
  EXPECT_EQ(graph().counters().at("throttled"), 0) << "never over the budget: no 429";
  EXPECT_LE(result.max_status_in_flight, 4u);
  EXPECT_EQ(result.status_max_in_flight, 4u);
  const auto status = status_of("graph-eight-bots");
  EXPECT_EQ(status.http().throttled(), 0u);
  EXPECT_EQ(status.http().in_flight(), 0u) << "nothing in flight after the load";
  EXPECT_EQ(status.http().waiting(), 0u);
  EXPECT_LE(status.http().connections(), 4u) << "at most 4 keep-alive connections";
  EXPECT_LE(graph().counters().at("connections"), 8) << "connections are kept alive, not one per request";
  EXPECT_EQ(status.state(), pb::SESSION_STATE_READY);
}

TEST_F(graph_throttle, MaxConcurrentRequestsLowersTheSessionsBudget) {
  deliver_jobs();
  auto request = app_request("graph-two-at-once");
  request.mutable_spec()->mutable_graph()->set_max_concurrent_requests(2);
  graph().set_delay(200);
  const auto result = run_load(request);
  graph().set_delay(0);
  EXPECT_TRUE(result.errors.empty()) << result.errors.front();
  EXPECT_EQ(result.ok_calls, bots * 3);
  EXPECT_LE(graph().max_in_flight("alice"), 2);
  EXPECT_EQ(result.status_max_in_flight, 2u);
  EXPECT_LE(result.max_status_in_flight, 2u);
  EXPECT_EQ(graph().counters().at("throttled"), 0);
}

TEST_F(graph_throttle, ASingle429IsWaitedOutThenRetried) {
  deliver("after-the-429");
  const auto lease = connect(app_request("graph-one-429"));
  ASSERT_FALSE(lease.empty());
  graph().fail("throttle", 1, std::nullopt, 1);
  const auto t0 = std::chrono::steady_clock::now();
  grpc::Status st;
  const auto page = list(lease, "INBOX", &st);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(subjects(page), std::vector<std::string>{"after-the-429"});
  EXPECT_GE(took, 1s) << "Retry-After: 1 was not honoured";
  EXPECT_LT(took, 10s);
  EXPECT_EQ(graph().counters().at("injected_failures"), 1);
  const auto status = status_of("graph-one-429");
  EXPECT_EQ(status.http().throttled(), 1u);
  EXPECT_EQ(status.http().last_retry_after_ms(), 1000u);
  EXPECT_EQ(status.state(), pb::SESSION_STATE_READY);
}

TEST_F(graph_throttle, A429ThatNeverStopsIsUnavailableAfterThreeRetries) {
  deliver("never-listed");
  const auto lease = connect(app_request("graph-always-429"));
  ASSERT_FALSE(lease.empty());
  graph().fail("throttle", 4, std::nullopt, 0);  // the first try and 3 retries
  grpc::Status st;
  list(lease, "INBOX", &st);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  EXPECT_TRUE(contains(st.error_message(), "429") || contains(st.error_message(), "ApplicationThrottled"))
      << st.error_message();
  EXPECT_EQ(graph().counters().at("injected_failures"), 4) << "one try and 3 retries, no more";
  EXPECT_TRUE(wait_for_status("graph-always-429", [](const pb::SessionStatus& s) { return s.http().throttled() >= 4; }));
  EXPECT_EQ(status_of("graph-always-429").http().throttled(), 4u);
  // The session is fine: the next call works.
  const auto page = list(lease, "INBOX", &st);
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(subjects(page), std::vector<std::string>{"never-listed"});
}

// A mailbox whose budget is 2 requests at once (a fake started with MB_GRAPH_CONCURRENCY=2):
// the session's 4 in flight earn 429s, which it waits out and retries.
graph_testbed& two_at_once_graph() {
  static graph_testbed instance(graph_introspection_env() + "MB_GRAPH_CONCURRENCY=2 MB_GRAPH_RETRY_AFTER=1 ");
  return instance;
}

class graph_throttle_small_budget : public graph_throttle {
 protected:
  graph_testbed& graph() override { return two_at_once_graph(); }
};

TEST_F(graph_throttle_small_budget, EveryBotSucceedsWhenTheServerThrottles) {
  ASSERT_EQ(graph().concurrency(), 2);
  deliver_jobs();
  const auto request = app_request("graph-small-budget");
  graph().set_delay(300);
  const auto result = run_load(request);
  graph().set_delay(0);
  EXPECT_TRUE(result.errors.empty()) << result.errors.size() << " failed calls, the first: " << result.errors.front();
  EXPECT_EQ(result.ok_calls, bots * 3);
  EXPECT_GT(graph().counters().at("throttled"), 0) << "the fake answered 429s";
  const auto status = status_of("graph-small-budget");
  EXPECT_GT(status.http().throttled(), 0u) << status.DebugString();
  EXPECT_EQ(status.http().last_retry_after_ms(), 1000u) << status.DebugString();
  EXPECT_EQ(status.state(), pb::SESSION_STATE_READY);
}

}  // namespace
}  // namespace mailbroker::testing
