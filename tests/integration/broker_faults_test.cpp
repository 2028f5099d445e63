// Bad input and faults: every case gets the right gRPC code and a message naming the
// field or cause, and the daemon and its other sessions keep running.
#include <gtest/gtest.h>

#include <thread>

#include "support/broker_fixture.hpp"

namespace mailbroker::testing {
namespace {

struct bad_case {
  const char* name;
  std::function<void(pb::ConnectRequest&, const dovecot_testbed&)> mutate;
  grpc::StatusCode code;
  const char* message_part;
};

class broker_faults : public broker_fixture {};

TEST_F(broker_faults, BadRequestsGetClearErrorsAndHarmNothing) {
  start_broker();
  pb::ConnectResponse healthy;
  ASSERT_TRUE(client_->connect(imaps_request("bystander", "carol"), &healthy).ok());

  const std::vector<bad_case> cases = {
      {"empty name", [](auto& r, auto&) { r.set_session(""); }, grpc::StatusCode::INVALID_ARGUMENT, "session"},
      {"long name", [](auto& r, auto&) { r.set_session(std::string(129, 'n')); }, grpc::StatusCode::INVALID_ARGUMENT,
       "at most 128"},
      {"bad name chars", [](auto& r, auto&) { r.set_session("a b/c"); }, grpc::StatusCode::INVALID_ARGUMENT,
       "session"},
      {"no spec", [](auto& r, auto&) { r.clear_spec(); }, grpc::StatusCode::INVALID_ARGUMENT, "spec is required"},
      {"no host", [](auto& r, auto&) { r.mutable_spec()->mutable_server()->set_host(""); },
       grpc::StatusCode::INVALID_ARGUMENT, "spec.server.host"},
      {"port out of range", [](auto& r, auto&) { r.mutable_spec()->mutable_server()->set_port(70000); },
       grpc::StatusCode::INVALID_ARGUMENT, "spec.server.port"},
      {"no user", [](auto& r, auto&) { r.mutable_spec()->mutable_auth()->mutable_basic()->set_username(""); },
       grpc::StatusCode::INVALID_ARGUMENT, "spec.auth.basic.username"},
      {"no password", [](auto& r, auto&) { r.mutable_spec()->mutable_auth()->mutable_basic()->clear_password(); },
       grpc::StatusCode::INVALID_ARGUMENT, "spec.auth.basic.password"},
      {"no auth", [](auto& r, auto&) { r.mutable_spec()->clear_auth(); }, grpc::StatusCode::INVALID_ARGUMENT,
       "spec.auth"},
      {"keepalive too short", [](auto& r, auto&) { r.mutable_spec()->set_keepalive_seconds(1); },
       grpc::StatusCode::INVALID_ARGUMENT, "keepalive_seconds"},
      {"lease ttl too long", [](auto& r, auto&) { r.set_lease_ttl_seconds(10000000); },
       grpc::StatusCode::INVALID_ARGUMENT, "lease_ttl_seconds"},
      {"ews without its leg", [](auto& r, auto&) { r.mutable_spec()->set_protocol(pb::PROTOCOL_EWS); },
       grpc::StatusCode::INVALID_ARGUMENT, "spec.ews"},
      {"smtp as the main protocol", [](auto& r, auto&) { r.mutable_spec()->set_protocol(pb::PROTOCOL_SMTP); },
       grpc::StatusCode::UNIMPLEMENTED, "spec.protocol"},
      {"smtp leg without host", [](auto& r, auto&) { r.mutable_spec()->mutable_smtp()->mutable_server()->set_port(587); },
       grpc::StatusCode::INVALID_ARGUMENT, "spec.smtp.server.host"},
      {"poll interval", [](auto& r, auto&) { r.mutable_spec()->set_poll_interval_seconds(3601); },
       grpc::StatusCode::INVALID_ARGUMENT, "spec.poll_interval_seconds"},
      {"env var unset",
       [](auto& r, auto&) {
         r.mutable_spec()->mutable_auth()->mutable_basic()->mutable_password()->set_env("MB_TEST_UNSET_VARIABLE");
       },
       // Refused before the variable is looked at: env: secrets need a secret-hosts binding.
       grpc::StatusCode::PERMISSION_DENIED, "env:MB_TEST_UNSET_VARIABLE"},
      {"password file missing",
       [](auto& r, auto&) {
         r.mutable_spec()->mutable_auth()->mutable_basic()->mutable_password()->set_file("/nonexistent/pw");
       },
       grpc::StatusCode::PERMISSION_DENIED, "file:/nonexistent/pw"},
      {"unknown host", [](auto& r, auto&) { r.mutable_spec()->mutable_server()->set_host("no-such-host.invalid"); },
       grpc::StatusCode::UNAVAILABLE, "cannot resolve"},
      {"server down", [](auto& r, auto&) { r.mutable_spec()->mutable_server()->set_port(1); },
       grpc::StatusCode::UNAVAILABLE, "cannot connect"},
      {"implicit TLS on the plain port",
       [](auto& r, auto& d) { r.mutable_spec()->mutable_server()->set_port(d.imap_port()); },
       grpc::StatusCode::UNAVAILABLE, "TLS handshake"},
      {"certificate for another name",
       [](auto& r, auto&) { r.mutable_spec()->mutable_server()->mutable_tls()->set_server_name("mail.example.org"); },
       grpc::StatusCode::FAILED_PRECONDITION, "did not verify"},
      {"CA not trusted", [](auto& r, auto&) { r.mutable_spec()->mutable_server()->mutable_tls()->clear_ca_file(); },
       grpc::StatusCode::FAILED_PRECONDITION, "did not verify"},
      {"CA file unreadable",
       [](auto& r, auto&) { r.mutable_spec()->mutable_server()->mutable_tls()->set_ca_file("/nonexistent/ca.pem"); },
       grpc::StatusCode::FAILED_PRECONDITION, "ca_file"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto request = imaps_request("bad-input", "alice");
    c.mutate(request, dovecot());
    pb::ConnectResponse response;
    auto s = client_->connect(request, &response, std::chrono::seconds(20));
    EXPECT_EQ(s.error_code(), c.code) << s.error_message();
    EXPECT_NE(s.error_message().find(c.message_part), std::string::npos) << s.error_message();
    EXPECT_EQ(s.error_message().find(dovecot().password("alice")), std::string::npos);
  }
  EXPECT_EQ(status_of("bystander").state(), pb::SESSION_STATE_READY);
  EXPECT_EQ(status_of("bystander").reconnect_count(), 0u);
  EXPECT_EQ(dovecot().who("carol"), 1);

  pb::DisconnectResponse released;
  EXPECT_EQ(client_->disconnect("", false, &released).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(client_->disconnect("feedface", false, &released).error_code(), grpc::StatusCode::NOT_FOUND);
  pb::StatusResponse st;
  EXPECT_EQ(client_->status("never-made", &st).error_code(), grpc::StatusCode::NOT_FOUND);
}

// Reads a WatchStatus stream on a thread and collects (state, reason) pairs.
class event_recorder {
 public:
  event_recorder(client::broker_client& c, const std::string& session) {
    reader_ = c.watch(session, context_);
    thread_ = std::thread([this] {
      pb::SessionEvent ev;
      while (reader_->Read(&ev)) {
        std::lock_guard lock(mutex_);
        events_.push_back(ev);
      }
    });
  }
  ~event_recorder() {
    context_.TryCancel();
    thread_.join();
    (void)reader_->Finish();
  }
  // Index of the first event at or after `from` in `state`, or -1 (waits up to timeout).
  int find(pb::SessionState state, int from, std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    do {
      {
        std::lock_guard lock(mutex_);
        for (int i = from; i < static_cast<int>(events_.size()); ++i) {
          if (events_[i].status().state() == state) return i;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } while (std::chrono::steady_clock::now() < until);
    return -1;
  }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<pb::SessionEvent>> reader_;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<pb::SessionEvent> events_;
};

TEST_F(broker_faults, KickedSessionBacksOffAndIsReadyAgainInWatchStatus) {
  daemon::daemon_config config;
  config.registry.session.reconnect.initial = std::chrono::milliseconds(200);
  start_broker(config);
  pb::ConnectResponse response;
  ASSERT_TRUE(client_->connect(imaps_request("kicked", "bob"), &response).ok());
  event_recorder events(*client_, "kicked");
  const int current = events.find(pb::SESSION_STATE_READY, 0, std::chrono::seconds(5));
  ASSERT_GE(current, 0) << "the stream starts with the current state";

  dovecot().kick("bob");
  const int backoff = events.find(pb::SESSION_STATE_BACKOFF, current + 1, std::chrono::seconds(10));
  ASSERT_GT(backoff, current);
  const int ready_again = events.find(pb::SESSION_STATE_READY, backoff + 1, std::chrono::seconds(15));
  ASSERT_GT(ready_again, backoff);

  auto st = status_of("kicked");
  EXPECT_EQ(st.state(), pb::SESSION_STATE_READY);
  EXPECT_EQ(st.reconnect_count(), 1u);
  EXPECT_EQ(st.counters().connects(), 2u);
  EXPECT_EQ(st.lease_count(), 1u);  // the bots' leases survive a reconnect
  EXPECT_EQ(st.last_error().code(), "UNAVAILABLE");
  EXPECT_TRUE(wait_for_who("bob", 1));
}

TEST_F(broker_faults, ServerDownMeansBackoffAttachTimesOutThenRecovers) {
  daemon::daemon_config config;
  config.registry.session.reconnect.initial = std::chrono::milliseconds(200);
  config.registry.session.reconnect.max = std::chrono::milliseconds(1000);
  start_broker(config);
  pb::ConnectResponse response;
  ASSERT_TRUE(client_->connect(imaps_request("outage", "alice"), &response).ok());

  dovecot().stop();
  EXPECT_TRUE(wait_for_state("outage", pb::SESSION_STATE_BACKOFF));
  pb::ConnectResponse waiting;
  auto s = client_->connect(imaps_request("outage", "alice"), &waiting, std::chrono::milliseconds(1500));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << s.error_message();
  pb::StatusResponse st;
  EXPECT_TRUE(client_->status("", &st).ok()) << "Status answers while the server is down";

  dovecot().start();
  EXPECT_TRUE(wait_for_state("outage", pb::SESSION_STATE_READY, std::chrono::seconds(15)));
  EXPECT_GE(status_of("outage").reconnect_count(), 1u);
  ASSERT_TRUE(client_->connect(imaps_request("outage", "alice"), &waiting).ok());
  EXPECT_FALSE(waiting.created());
}

TEST_F(broker_faults, SecretsNeverReachLogsOrStatus) {
  start_broker();
  pb::ConnectResponse response;
  ASSERT_TRUE(client_->connect(imaps_request("secretive", "dave"), &response).ok());
  pb::StatusResponse st;
  ASSERT_TRUE(client_->status("", &st).ok());
  const std::string everything = st.DebugString() + response.DebugString() + captured_logs();
  for (const char* user : {"alice", "bob", "carol", "dave"}) {
    EXPECT_EQ(everything.find(dovecot().password(user)), std::string::npos) << user << "'s password leaked";
  }
}

}  // namespace
}  // namespace mailbroker::testing
