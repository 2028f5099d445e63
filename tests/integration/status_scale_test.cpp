// Status paging and filters, and WatchStatus's initial burst, with more sessions than
// one reply (or the old 1,024-event watcher queue) could hold, through the real gRPC
// server. The sessions aim at a listener that never answers and the login gate admits
// one at a time, so they stay CONNECTING (waiting for a login slot) without a mail server.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <set>

#include "support/broker_fixture.hpp"

namespace mailbroker::testing {
namespace {

// A TCP socket that listens and never accepts.
class silent_listener {
 public:
  silent_listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 4096), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~silent_listener() { ::close(fd_); }
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

class status_scale : public broker_fixture {
 protected:
  void start_gated() {
    daemon::daemon_config config;
    config.registry.logins.concurrency_per_host = 1;
    config.registry.logins.rate_per_host = 0;
    config.registry.max_sessions = 5000;
    start_broker(config);
  }

  // Creates `n` sessions named PREFIX-NNNN in the daemon's registry (Connect's core; the
  // call answers at once with DEADLINE_EXCEEDED and the session stays).
  void create_silent(const std::string& prefix, int n) {
    for (int i = 0; i < n; ++i) {
      auto request = imaps_request(prefix + "-" + std::to_string(10000 + i));
      request.mutable_spec()->mutable_server()->set_port(listener_.port());
      request.mutable_spec()->set_connect_timeout_ms(300000);
      auto converted = daemon::from_proto(request);
      ASSERT_TRUE(converted.ok()) << converted.err().message;
      std::promise<void> answered;
      server_->registry().connect(std::move(converted.value()), std::chrono::steady_clock::now(),
                                  [&answered](result<session::connect_outcome>) { answered.set_value(); });
      answered.get_future().wait();
    }
  }

  silent_listener listener_;
};

TEST_F(status_scale, PagesWalkEverySessionOnceAndFiltersApply) {
  start_gated();
  pb::ConnectResponse ready;
  ASSERT_TRUE(client_->connect(imaps_request("ready-one", "alice"), &ready).ok());
  create_silent("silent", 1200);

  // A default request: the first 500, and a token.
  pb::StatusResponse first;
  ASSERT_TRUE(client_->status("", &first).ok());
  EXPECT_EQ(first.sessions_size(), 500);
  EXPECT_FALSE(first.next_page_token().empty());
  EXPECT_EQ(first.total_sessions(), 1201u);
  EXPECT_EQ(first.live_sessions(), 1201u);
  EXPECT_EQ(first.max_sessions(), 5000u);
  EXPECT_EQ(first.sessions_by_state().at("SESSION_STATE_CONNECTING"), 1200u);
  EXPECT_EQ(first.sessions_by_state().at("SESSION_STATE_READY"), 1u);

  // Every page, 1000 at a time: each session exactly once, in name order.
  pb::StatusRequest request;
  request.set_page_size(1000);
  std::vector<std::string> names;
  int pages = 0;
  for (;;) {
    pb::StatusResponse page;
    ASSERT_TRUE(client_->status(request, &page).ok());
    ++pages;
    EXPECT_LT(page.ByteSizeLong(), 4u * 1024 * 1024);
    for (const auto& s : page.sessions()) names.push_back(s.name());
    if (page.next_page_token().empty()) break;
    request.set_page_token(page.next_page_token());
  }
  EXPECT_EQ(pages, 2);
  EXPECT_EQ(names.size(), 1201u);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size());

  // Filters.
  pb::StatusRequest only_ready;
  only_ready.add_states(pb::SESSION_STATE_READY);
  pb::StatusResponse r;
  ASSERT_TRUE(client_->status(only_ready, &r).ok());
  ASSERT_EQ(r.sessions_size(), 1);
  EXPECT_EQ(r.sessions(0).name(), "ready-one");
  EXPECT_TRUE(r.next_page_token().empty());

  pb::StatusRequest waiting;
  waiting.add_states(pb::SESSION_STATE_CONNECTING);
  waiting.set_name_prefix("silent-1011");  // silent-10110 .. silent-10119
  ASSERT_TRUE(client_->status(waiting, &r).ok());
  EXPECT_EQ(r.sessions_size(), 10);
  int shown_waiting = 0;
  for (const auto& s : r.sessions()) shown_waiting += s.has_login_wait() ? 1 : 0;
  EXPECT_GE(shown_waiting, 9) << "at most one of them holds the login slot";

  pb::StatusRequest pop3;
  pop3.set_protocol(pb::PROTOCOL_POP3);
  ASSERT_TRUE(client_->status(pop3, &r).ok());
  EXPECT_EQ(r.sessions_size(), 0);

  // Bad requests name the field.
  pb::StatusRequest too_big;
  too_big.set_page_size(1001);
  auto st = client_->status(too_big, &r);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("page_size"), std::string::npos);
  pb::StatusRequest bad_token;
  bad_token.set_page_token("garbage");
  st = client_->status(bad_token, &r);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("page_token"), std::string::npos);

  // One session by name still works, filters or not.
  EXPECT_EQ(status_of("ready-one").state(), pb::SESSION_STATE_READY);
}

TEST_F(status_scale, WatchStatusDeliversTheCurrentStateOfEverySession) {
  start_gated();
  constexpr int n = 1500;  // more than the 1,024 events the old watcher queue kept
  create_silent("burst", n);

  grpc::ClientContext context;
  auto reader = client_->watch("", context);
  std::set<std::string> current;
  pb::SessionEvent ev;
  int events = 0;
  // Read slowly at first, so the server must wait for us rather than queue and drop.
  while (current.size() < static_cast<std::size_t>(n) && reader->Read(&ev)) {
    if (++events < 20) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (ev.reason() == "current state") current.insert(ev.status().name());
  }
  EXPECT_EQ(current.size(), static_cast<std::size_t>(n));

  // Live events still come after the burst: a new session.
  create_silent("after", 1);
  bool saw_new = false;
  while (!saw_new && reader->Read(&ev)) saw_new = ev.status().name() == "after-10000";
  EXPECT_TRUE(saw_new);
  context.TryCancel();
  (void)reader->Finish();
}

}  // namespace
}  // namespace mailbroker::testing
