// Status paging, filters and views, and WatchStatus's initial burst, with more sessions
// than one reply (or the old 1,024-event watcher queue) could hold, through the real gRPC
// server. The sessions aim at a listener that never answers and the login gate admits
// one at a time, so they stay CONNECTING (waiting for a login slot) without a mail server.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <set>

#include <google/protobuf/util/message_differencer.h>

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

// StatusRequest.view: BRIEF drops the greeting and capabilities of a READY session (one
// by name, and in a listing) and leaves everything else as FULL shows it.
TEST_F(status_scale, BriefViewLeavesOutCapabilitiesAndKeepsTheRest) {
  start_gated();
  pb::ConnectResponse ready;
  ASSERT_TRUE(client_->connect(imaps_request("view-ready", "alice"), &ready).ok());
  ASSERT_EQ(ready.session().state(), pb::SESSION_STATE_READY);
  create_silent("view-silent", 3);

  auto one = [&](pb::StatusView view) {
    pb::StatusRequest request;
    request.set_session("view-ready");
    request.set_view(view);
    pb::StatusResponse response;
    EXPECT_TRUE(client_->status(request, &response).ok());
    EXPECT_EQ(response.sessions_size(), 1);
    return response.sessions_size() == 1 ? response.sessions(0) : pb::SessionStatus();
  };
  auto listing = [&](pb::StatusView view) {
    pb::StatusRequest request;
    request.set_name_prefix("view-");
    request.set_view(view);
    pb::StatusResponse response;
    EXPECT_TRUE(client_->status(request, &response).ok());
    return response;
  };
  const auto unset = one(pb::STATUS_VIEW_UNSPECIFIED);
  const auto full = one(pb::STATUS_VIEW_FULL);
  const auto brief = one(pb::STATUS_VIEW_BRIEF);
  EXPECT_GT(full.server().capabilities_size(), 5) << "Dovecot announces dozens";
  EXPECT_FALSE(full.server().greeting().empty());
  EXPECT_EQ(unset.server().capabilities_size(), full.server().capabilities_size()) << "unset = FULL";
  EXPECT_EQ(brief.server().capabilities_size(), 0);
  EXPECT_TRUE(brief.server().greeting().empty());

  EXPECT_EQ(brief.state(), pb::SESSION_STATE_READY);
  EXPECT_EQ(brief.server().host(), full.server().host());
  EXPECT_EQ(brief.server().port(), full.server().port());
  EXPECT_TRUE(brief.server().tls_verified());
  EXPECT_EQ(brief.username(), "alice");
  EXPECT_EQ(brief.lease_count(), 1u);
  EXPECT_GT(brief.counters().connects(), 0u);
  EXPECT_EQ(brief.counters().commands_sent(), full.counters().commands_sent());
  EXPECT_EQ(brief.counters().bytes_in(), full.counters().bytes_in());
  // The rest, field for field (nothing runs on the session between the two reads).
  auto expected = full;
  expected.mutable_server()->clear_capabilities();
  expected.mutable_server()->clear_greeting();
  std::string diff;
  google::protobuf::util::MessageDifferencer differ;
  differ.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differ.Compare(expected, brief)) << diff;

  // A listing: the same sessions and totals in both views, smaller.
  const auto full_page = listing(pb::STATUS_VIEW_FULL);
  const auto brief_page = listing(pb::STATUS_VIEW_BRIEF);
  ASSERT_EQ(full_page.sessions_size(), 4);
  ASSERT_EQ(brief_page.sessions_size(), 4);
  EXPECT_EQ(brief_page.total_sessions(), full_page.total_sessions());
  EXPECT_EQ(brief_page.sessions_by_state().at("SESSION_STATE_READY"), 1u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(brief_page.sessions(i).name(), full_page.sessions(i).name());
    EXPECT_EQ(brief_page.sessions(i).state(), full_page.sessions(i).state());
    EXPECT_EQ(brief_page.sessions(i).server().capabilities_size(), 0) << brief_page.sessions(i).name();
    EXPECT_TRUE(brief_page.sessions(i).server().greeting().empty());
  }
  EXPECT_EQ(brief_page.sessions(0).name(), "view-ready");
  EXPECT_GT(full_page.sessions(0).server().capabilities_size(), 5);
  EXPECT_LT(brief_page.ByteSizeLong(), full_page.ByteSizeLong());

  // A value the daemon does not know: INVALID_ARGUMENT naming the field, listing or not.
  for (const bool by_name : {true, false}) {
    pb::StatusRequest bad;
    if (by_name) bad.set_session("view-ready");
    bad.set_view(static_cast<pb::StatusView>(7));
    pb::StatusResponse r;
    auto st = client_->status(bad, &r);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << by_name;
    EXPECT_NE(st.error_message().find("view"), std::string::npos) << st.error_message();
    EXPECT_NE(st.error_message().find("STATUS_VIEW_BRIEF"), std::string::npos) << st.error_message();
  }
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
