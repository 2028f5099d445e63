#include <sys/resource.h>
// The session registry at scale, without a mail server: sessions aimed at a listener
// that never answers, held back by the login gate, so they stay CONNECTING.
#include "session/session_registry.hpp"
#include "net/fd_budget.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <set>
#include <thread>

namespace mailbroker::session {
namespace {

using namespace std::chrono_literals;

// An io_context on one thread, and a TCP listener that accepts nothing (connects sit in
// its backlog: a TLS handshake to it never completes).
class registry_test : public ::testing::Test {
 protected:
  void SetUp() override {
    acceptor_.open(asio::ip::tcp::v4());
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen(4096);
    work_.emplace(io_.get_executor());
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (registry_) {
      std::promise<void> drained;
      registry_->shutdown([&drained] { drained.set_value(); });
      drained.get_future().wait_for(10s);
    }
    work_.reset();
    io_.stop();
    thread_.join();
    registry_.reset();
  }

  void make_registry(registry_settings settings) {
    registry_ = std::make_unique<session_registry>(io_.get_executor(), std::move(settings));
  }

  connect_request request(const std::string& name, std::uint16_t port = 0) const {
    connect_request r;
    r.name = name;
    r.spec.proto = protocol::imap;
    r.spec.host = "127.0.0.1";
    r.raw_port = port != 0 ? port : acceptor_.local_endpoint().port();
    r.spec.tls = tls_mode::implicit;
    r.spec.insecure_skip_verify = true;  // no trust store to load for each session
    r.spec.auth = auth_method::basic;
    r.spec.username = "u";
    r.spec.connect_timeout = std::chrono::minutes(5);  // the one admitted handshake hangs all test long
    r.spec.password = secrets::secret_ref{secrets::secret_ref::source::inline_value, "p"};
    r.client_name = "test";
    return r;
  }

  // Connect with a deadline that has passed: the session is created, the call answers
  // at once (DEADLINE_EXCEEDED unless refused), the session stays.
  error connect_now(connect_request r) {
    std::promise<error> answer;
    registry_->connect(std::move(r), std::chrono::steady_clock::now(), [&answer](result<connect_outcome> o) {
      answer.set_value(o ? error::none() : o.err());
    });
    return answer.get_future().get();
  }

  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread thread_;
  asio::ip::tcp::acceptor acceptor_{io_};
  std::unique_ptr<session_registry> registry_;
};

registry_settings gated_settings(std::size_t max_sessions) {
  registry_settings s;
  s.max_sessions = max_sessions;
  s.logins.concurrency_per_host = 1;  // one handshake hangs; every other session waits its turn
  s.logins.rate_per_host = 0;
  s.session.default_linger = std::chrono::seconds(600);
  return s;
}

TEST_F(registry_test, NewSessionsAreRefusedBeforeFileDescriptorsRunOut) {
  make_registry(gated_settings(100));
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = saved;
  // Room for 2 IMAP sessions without an SMTP leg: one descriptor each.
  ASSERT_EQ(session_registry::descriptors_for(request("fd-0").spec), 1u);
  low.rlim_cur = net::fd_budget::reserve + 2;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  const auto first = connect_now(request("fd-1"));
  const auto second = connect_now(request("fd-2"));
  const auto third = connect_now(request("fd-3"));
  ::setrlimit(RLIMIT_NOFILE, &saved);
  EXPECT_EQ(first.code, errc::deadline_exceeded) << first.message;  // admitted (then gated)
  EXPECT_NE(second.code, errc::ok);
  EXPECT_EQ(third.code, errc::resource_exhausted) << third.message;
  EXPECT_NE(third.message.find("LimitNOFILE"), std::string::npos) << third.message;
  EXPECT_EQ(registry_->counts().live, second.code == errc::resource_exhausted ? 1u : 2u);
}

TEST(registry_descriptors, OneConnectionSessionsCountOneDescriptorPlusTheirSmtpLeg) {
  session_spec spec;
  spec.proto = protocol::imap;
  EXPECT_EQ(session_registry::descriptors_for(spec), 1u);
  spec.proto = protocol::pop3;
  spec.smtp.emplace();
  EXPECT_EQ(session_registry::descriptors_for(spec), 2u);
  spec.smtp.reset();
  spec.proto = protocol::ews;
  EXPECT_EQ(session_registry::descriptors_for(spec), net::fd_budget::per_session);
}

TEST_F(registry_test, CreatingSessionsReadsNoOtherSessionAndCountsStayExact) {
  constexpr int n = 2000;
  // Admission counts file descriptors too: make room for n sessions as mailbrokerd does.
  const auto room = net::fd_budget::raise_soft_limit(net::fd_budget::needed_for_sessions(n));
  if (!room.enough()) GTEST_SKIP() << "the hard open-file limit " << room.hard << " is too low for " << n << " sessions";
  make_registry(gated_settings(n));
  for (int i = 0; i < n; ++i) {
    const auto e = connect_now(request("s" + std::to_string(i)));
    ASSERT_EQ(e.code, errc::deadline_exceeded) << e.message;
  }
  // Every session's own snapshot() counter: creation must not read the others. The old
  // create path read every session's snapshot on each create: ~n*n/2 = 2,000,000 reads.
  // What remains is each session's own publishing (a few state/lease events each).
  std::uint64_t reads = 0;
  auto start = registry_->watch_paced("", [](const status_event&) {});
  registry_->unwatch(start.id);
  ASSERT_EQ(start.current.size(), static_cast<std::size_t>(n));
  for (const auto& s : start.current) reads += s->snapshot_reads();
  EXPECT_LT(reads, 10u * n) << "reads of session snapshots while creating " << n << " sessions";

  const auto c = registry_->counts();
  EXPECT_EQ(c.listed, static_cast<std::size_t>(n));
  EXPECT_EQ(c.live, static_cast<std::size_t>(n));
  EXPECT_EQ(c.by_state[static_cast<int>(session_state::connecting)], static_cast<std::size_t>(n));

  // The limit: the next new name is refused, naming the limit and the config key.
  const auto refused = connect_now(request("one-too-many"));
  EXPECT_EQ(refused.code, errc::resource_exhausted);
  EXPECT_NE(refused.message.find("max-sessions (2000)"), std::string::npos) << refused.message;
}

TEST_F(registry_test, WaitingForALoginSlotShowsInStatusAndStoppingLeavesTheQueue) {
  make_registry(gated_settings(100));
  for (int i = 0; i < 5; ++i) ASSERT_EQ(connect_now(request("w" + std::to_string(i))).code, errc::deadline_exceeded);
  // w0 holds the only slot (its handshake hangs); w1..w4 wait in order.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  std::optional<status_snapshot> w3;
  while (std::chrono::steady_clock::now() < deadline) {
    auto st = registry_->status("w3");
    ASSERT_TRUE(st.ok());
    if (st->front().waiting_for_login) {
      w3 = st->front();
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(w3.has_value()) << "w3 never showed that it waits for a login slot";
  EXPECT_EQ(w3->state, session_state::connecting);
  EXPECT_EQ(w3->waiting_for_login->ahead, 2u);  // w1, w2
  EXPECT_FALSE(registry_->status("w0")->front().waiting_for_login.has_value());
  const auto gate = registry_->settings().session.logins;
  ASSERT_TRUE(gate);
  EXPECT_EQ(gate->totals().waiting, 4u);

  // Stopping waiting sessions takes them out of the queue.
  std::promise<void> stopped;
  auto s = registry_->watch_paced("w2", [](const status_event&) {});
  registry_->unwatch(s.id);
  ASSERT_EQ(s.current.size(), 1u);
  s.current.front()->stop("test", [&stopped] { stopped.set_value(); });
  ASSERT_EQ(stopped.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_EQ(gate->totals().waiting, 3u);
  const auto c = registry_->counts();
  EXPECT_EQ(c.live, 4u);
  EXPECT_EQ(c.by_state[static_cast<int>(session_state::closed)], 1u);
}

TEST_F(registry_test, StatusPagesWalkEverySessionOnceWithFilters) {
  make_registry(gated_settings(1000));
  std::set<std::string> names;
  for (int i = 0; i < 230; ++i) {
    const std::string name = (i % 2 == 0 ? "even-" : "odd-") + std::to_string(1000 + i);
    names.insert(name);
    ASSERT_EQ(connect_now(request(name)).code, errc::deadline_exceeded);
  }
  session_registry::status_query q;
  q.limit = 50;
  std::vector<std::string> seen;
  int pages = 0;
  for (;;) {
    auto page = registry_->status_page_of(q);
    ++pages;
    ASSERT_LE(page.sessions.size(), 50u);
    for (const auto& s : page.sessions) seen.push_back(s.name);
    if (page.next_after.empty()) break;
    q.after = page.next_after;
  }
  EXPECT_EQ(pages, 5);
  EXPECT_EQ(std::vector<std::string>(names.begin(), names.end()), seen) << "every session once, in name order";

  q = {};
  q.name_prefix = "odd-";
  q.limit = 1000;
  auto odd = registry_->status_page_of(q);
  EXPECT_EQ(odd.sessions.size(), 115u);
  EXPECT_TRUE(odd.next_after.empty());
  for (const auto& s : odd.sessions) EXPECT_EQ(s.name.rfind("odd-", 0), 0u);

  q.states = {session_state::ready, session_state::failed};
  EXPECT_TRUE(registry_->status_page_of(q).sessions.empty());
  q.states = {session_state::connecting};
  q.proto = protocol::pop3;
  EXPECT_TRUE(registry_->status_page_of(q).sessions.empty());
  q.proto = protocol::imap;
  EXPECT_EQ(registry_->status_page_of(q).sessions.size(), 115u);
}

TEST_F(registry_test, VisitStatusPageEmitsWhatStatusPageOfCopiesWithoutCopying) {
  make_registry(gated_settings(1000));
  for (int i = 0; i < 120; ++i) {
    const std::string name = (i % 3 == 0 ? "a-" : "b-") + std::to_string(1000 + i);
    ASSERT_EQ(connect_now(request(name)).code, errc::deadline_exceeded);
  }
  auto names_of = [](const std::vector<status_snapshot>& page) {
    std::vector<std::string> out;
    for (const auto& s : page) out.push_back(s.name);
    return out;
  };
  session_registry::status_query q;
  q.limit = 30;
  q.name_prefix = "b-";
  for (int pages = 0;; ++pages) {
    ASSERT_LT(pages, 10);
    const auto copied = registry_->status_page_of(q);
    std::vector<std::string> visited;
    const auto next = registry_->visit_status_page(q, nullptr, [&](const status_snapshot& s) {
      visited.push_back(s.name);
      return true;
    });
    EXPECT_EQ(visited, names_of(copied.sessions));
    EXPECT_EQ(next, copied.next_after);
    if (next.empty()) break;
    q.after = next;
  }

  // `visible` leaves sessions out (the page comes out short); the next page starts
  // after the last picked one all the same.
  q = {};
  q.limit = 10;
  std::vector<std::string> visited;
  const auto next = registry_->visit_status_page(
      q, [](const std::string& name) { return name.back() % 2 == 0; },
      [&](const status_snapshot& s) {
        visited.push_back(s.name);
        return true;
      });
  EXPECT_EQ(visited, (std::vector<std::string>{"a-1000", "a-1006", "a-1012", "a-1018", "a-1024"}));
  EXPECT_EQ(next, "a-1027");

  // `emit` returning false ends the page at once; a state filter is checked on the
  // status `emit` would get.
  visited.clear();
  registry_->visit_status_page(q, nullptr, [&](const status_snapshot& s) {
    visited.push_back(s.name);
    return visited.size() < 3;
  });
  EXPECT_EQ(visited.size(), 3u);
  q.states = {session_state::ready};
  visited.clear();
  EXPECT_TRUE(registry_->visit_status_page(q, nullptr, [&](const status_snapshot& s) {
                          visited.push_back(s.name);
                          return true;
                        }).empty());
  EXPECT_TRUE(visited.empty());
}

TEST_F(registry_test, DeadSessionsAreForgottenAfterRetentionWithoutAWalk) {
  auto settings = gated_settings(10);
  settings.dead_session_retention = std::chrono::seconds(0);
  make_registry(settings);
  // Nothing listens on port 1: refused at once, and a new session's first failure is FAILED.
  const auto first = connect_now(request("refused", 1));
  EXPECT_TRUE(first.code == errc::deadline_exceeded || first.code == errc::unavailable) << first.message;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (registry_->counts().live > 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(registry_->counts().live, 0u);
  EXPECT_EQ(registry_->counts().listed, 1u) << "a dead session stays listed until the next create prunes";
  std::this_thread::sleep_for(5ms);
  ASSERT_EQ(connect_now(request("next")).code, errc::deadline_exceeded);
  EXPECT_EQ(registry_->status("refused").err().code, errc::not_found);
  EXPECT_EQ(registry_->counts().listed, 1u);
}

}  // namespace
}  // namespace mailbroker::session
