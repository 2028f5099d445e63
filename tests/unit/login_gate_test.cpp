// The login gate with a fake clock: rate, concurrency, FIFO order, cancellation.
#include "session/login_gate.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace mailbroker::session {
namespace {

using namespace std::chrono_literals;

struct fake_clock {
  std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now();
  login_gate::clock_fn fn() {
    return [this] { return now; };
  }
};

// Records the order in which tickets are admitted through their callbacks.
struct recorder {
  std::vector<int> order;
  std::function<void()> on(int id) {
    return [this, id] { order.push_back(id); };
  }
};

std::size_t admitted_count(const std::vector<std::shared_ptr<login_gate::ticket>>& ts) {
  std::size_t n = 0;
  for (const auto& t : ts) n += t->admitted() ? 1 : 0;
  return n;
}

TEST(login_gate, ConcurrencyBoundsLoginsInFlightAndReleaseAdmitsTheNext) {
  asio::io_context io;  // never run: the fake clock drives everything
  fake_clock clock;
  login_gate gate(io.get_executor(), {.concurrency_per_host = 3, .rate_per_host = 0}, clock.fn());
  recorder rec;
  std::vector<std::shared_ptr<login_gate::ticket>> ts;
  for (int i = 0; i < 10; ++i) ts.push_back(gate.enqueue("imap.example:993", rec.on(i)));
  EXPECT_EQ(admitted_count(ts), 3u);
  EXPECT_TRUE(ts[0]->admitted() && ts[1]->admitted() && ts[2]->admitted());
  EXPECT_TRUE(rec.order.empty()) << "tickets admitted at once get no callback";
  EXPECT_EQ(gate.totals().in_flight, 3u);
  EXPECT_EQ(gate.totals().waiting, 7u);

  ts[1]->release();
  EXPECT_EQ(admitted_count(ts), 4u);
  EXPECT_TRUE(ts[3]->admitted());
  ts[1]->release();  // idempotent: frees nothing more
  EXPECT_EQ(admitted_count(ts), 4u);
  ts[0].reset();  // dropping an admitted ticket frees its slot too
  EXPECT_TRUE(ts[4]->admitted());
  EXPECT_EQ((std::vector<int>{3, 4}), rec.order);
  EXPECT_EQ(gate.totals().in_flight, 3u);
}

TEST(login_gate, RateAdmitsAtMostBurstThenOnePerInterval) {
  asio::io_context io;
  fake_clock clock;
  // 10 per second, burst 2, no concurrency bound.
  login_gate gate(io.get_executor(), {.concurrency_per_host = 0, .rate_per_host = 10, .burst = 2}, clock.fn());
  recorder rec;
  std::vector<std::shared_ptr<login_gate::ticket>> ts;
  for (int i = 0; i < 8; ++i) ts.push_back(gate.enqueue("h:993", rec.on(i)));
  EXPECT_EQ(admitted_count(ts), 2u);

  clock.now += 40ms;  // 0.4 token
  gate.pump();
  EXPECT_EQ(admitted_count(ts), 2u);
  clock.now += 70ms;  // 1.1 tokens
  gate.pump();
  EXPECT_EQ(admitted_count(ts), 3u);
  clock.now += 150ms;  // 1.6 tokens
  gate.pump();
  EXPECT_EQ(admitted_count(ts), 4u);
  clock.now += 10s;  // the bucket holds at most `burst` (2), however long the wait
  gate.pump();
  EXPECT_EQ(admitted_count(ts), 6u);
  clock.now += 200ms;
  gate.pump();
  EXPECT_EQ(admitted_count(ts), 8u);
  EXPECT_EQ((std::vector<int>{2, 3, 4, 5, 6, 7}), rec.order);

  clock.now += 10s;  // idle: the bucket fills up to `burst` and no further
  auto late = gate.enqueue("h:993", {});
  auto later = gate.enqueue("h:993", {});
  auto third = gate.enqueue("h:993", {});
  EXPECT_TRUE(late->admitted());
  EXPECT_TRUE(later->admitted());
  EXPECT_FALSE(third->admitted()) << "after a long idle period only `burst` start back to back";
}

TEST(login_gate, BothLimitsApplyAndKeysAreIndependent) {
  asio::io_context io;
  fake_clock clock;
  login_gate gate(io.get_executor(), {.concurrency_per_host = 2, .rate_per_host = 100, .burst = 5}, clock.fn());
  std::vector<std::shared_ptr<login_gate::ticket>> a, b;
  for (int i = 0; i < 4; ++i) a.push_back(gate.enqueue("a:993", {}));
  for (int i = 0; i < 4; ++i) b.push_back(gate.enqueue("b:993", {}));
  EXPECT_EQ(admitted_count(a), 2u);
  EXPECT_EQ(admitted_count(b), 2u) << "a busy host does not hold back another";
  clock.now += 1s;  // plenty of tokens, but the concurrency bound still holds
  gate.pump();
  EXPECT_EQ(admitted_count(a), 2u);
  a[0]->release();
  EXPECT_EQ(admitted_count(a), 3u);
}

TEST(login_gate, AdmissionIsFifoEvenWhenLaterTicketsArriveAsSlotsFree) {
  asio::io_context io;
  fake_clock clock;
  login_gate gate(io.get_executor(), {.concurrency_per_host = 1, .rate_per_host = 0}, clock.fn());
  recorder rec;
  std::vector<std::shared_ptr<login_gate::ticket>> ts;
  ts.push_back(gate.enqueue("h:1", rec.on(0)));
  for (int i = 1; i < 50; ++i) ts.push_back(gate.enqueue("h:1", rec.on(i)));
  EXPECT_EQ(ts[10]->ahead(), 9u);
  for (int i = 0; i < 49; ++i) {
    ts[static_cast<std::size_t>(i)]->release();
    // A newcomer never overtakes the queue, even at the moment a slot is free.
    ts.push_back(gate.enqueue("h:1", rec.on(100 + i)));
    EXPECT_FALSE(ts.back()->admitted());
  }
  ASSERT_EQ(rec.order.size(), 49u);
  for (int i = 0; i < 49; ++i) EXPECT_EQ(rec.order[static_cast<std::size_t>(i)], i + 1);
}

TEST(login_gate, ADroppedWaiterLeavesTheQueueAndIsNeverAdmitted) {
  asio::io_context io;
  fake_clock clock;
  login_gate gate(io.get_executor(), {.concurrency_per_host = 1, .rate_per_host = 0}, clock.fn());
  recorder rec;
  auto first = gate.enqueue("h:1", rec.on(0));
  auto second = gate.enqueue("h:1", rec.on(1));
  auto third = gate.enqueue("h:1", rec.on(2));
  EXPECT_EQ(third->ahead(), 1u);
  second.reset();  // the session stopped while waiting
  EXPECT_EQ(gate.totals().waiting, 1u);
  EXPECT_EQ(third->ahead(), 0u);
  first->release();
  EXPECT_TRUE(third->admitted());
  EXPECT_EQ((std::vector<int>{2}), rec.order) << "the dropped ticket's callback never runs";
  third.reset();
  first.reset();
  EXPECT_EQ(gate.totals().keys, 0u) << "an idle key keeps no state";
}

TEST(login_gate, ExplicitReleaseOfAWaiterCancelsIt) {
  asio::io_context io;
  fake_clock clock;
  login_gate gate(io.get_executor(), {.concurrency_per_host = 1, .rate_per_host = 0}, clock.fn());
  recorder rec;
  auto first = gate.enqueue("h:1", rec.on(0));
  auto second = gate.enqueue("h:1", rec.on(1));
  second->release();
  first->release();
  EXPECT_FALSE(second->admitted());
  EXPECT_TRUE(rec.order.empty());
  EXPECT_EQ(gate.totals().in_flight, 0u);
}

TEST(login_gate, TicketsOutliveTheGateSafely) {
  asio::io_context io;
  std::shared_ptr<login_gate::ticket> admitted, waiting;
  {
    login_gate gate(io.get_executor(), {.concurrency_per_host = 1, .rate_per_host = 0});
    admitted = gate.enqueue("h:1", {});
    waiting = gate.enqueue("h:1", [] { FAIL() << "never admitted after the gate is gone"; });
  }
  admitted->release();
  EXPECT_FALSE(waiting->admitted());
  waiting.reset();
}

TEST(login_gate, RefillTimerAdmitsWithTheRealClock) {
  asio::io_context io;
  login_gate gate(io.get_executor(), {.concurrency_per_host = 0, .rate_per_host = 50, .burst = 1});
  std::atomic<int> called{0};
  auto first = gate.enqueue("h:1", {});
  auto second = gate.enqueue("h:1", [&] { ++called; });
  auto third = gate.enqueue("h:1", [&] { ++called; });
  EXPECT_TRUE(first->admitted());
  EXPECT_FALSE(second->admitted());
  // Nothing but the gate's timer can admit these (no release, no pump): 2 tokens at 50/s.
  while (called.load() < 2 && io.run_one_for(std::chrono::seconds(5)) > 0) {
  }
  EXPECT_TRUE(second->admitted());
  EXPECT_TRUE(third->admitted());
}

TEST(login_gate, ConcurrentUseKeepsTheBound) {
  asio::io_context io;
  login_gate gate(io.get_executor(), {.concurrency_per_host = 4, .rate_per_host = 0});
  std::atomic<int> in_flight{0}, peak{0}, done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        auto ticket = gate.enqueue("h:1", [] {});
        while (!ticket->admitted()) std::this_thread::yield();
        const int now = ++in_flight;
        int seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
        --in_flight;
        ticket.reset();
        ++done;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(done.load(), 1600);
  EXPECT_LE(peak.load(), 4);
  EXPECT_EQ(gate.totals().in_flight, 0u);
  EXPECT_EQ(gate.totals().waiting, 0u);
}

}  // namespace
}  // namespace mailbroker::session
