// Connect / Disconnect / Status against a real Dovecot through the in-process daemon.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <future>
#include <thread>

#include <grpcpp/generic/generic_stub.h>

#include "support/broker_fixture.hpp"

namespace mailbroker::testing {
namespace {

using pb::SessionState;

TEST_F(broker_fixture, ImapsConnectReportsReadySessionWithServerInfo) {
  start_broker();
  pb::ConnectResponse response;
  auto s = client_->connect(imaps_request("imaps-demo"), &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(response.created());
  EXPECT_EQ(response.lease_id().size(), 32u);
  const auto& st = response.session();
  EXPECT_EQ(st.state(), pb::SESSION_STATE_READY);
  EXPECT_EQ(st.server().tls_mode(), pb::TLS_MODE_IMPLICIT);
  EXPECT_TRUE(st.server().tls_verified());
  EXPECT_FALSE(st.server().greeting().empty());
  bool has_imap4rev1 = false;
  for (const auto& cap : st.server().capabilities()) has_imap4rev1 |= cap == "IMAP4REV1";
  EXPECT_TRUE(has_imap4rev1);
  EXPECT_EQ(st.username(), "alice");
  EXPECT_EQ(st.auth_mode(), "basic");
  EXPECT_EQ(st.lease_count(), 1u);
  EXPECT_TRUE(st.has_connected_since());
  EXPECT_EQ(st.counters().connects(), 1u);
  EXPECT_TRUE(wait_for_who("alice", 1));

  pb::DisconnectResponse released;
  s = client_->disconnect(response.lease_id(), /*force=*/true, &released);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(wait_for_state("imaps-demo", pb::SESSION_STATE_CLOSED));
  EXPECT_TRUE(wait_for_who("alice", 0));
}

TEST_F(broker_fixture, StartTlsConnectUpgradesBeforeLogin) {
  start_broker();
  auto request = imaps_request("starttls-demo", "bob");
  request.mutable_spec()->mutable_server()->set_port(dovecot().imap_port());
  request.mutable_spec()->mutable_server()->set_tls_mode(pb::TLS_MODE_STARTTLS);
  pb::ConnectResponse response;
  auto s = client_->connect(request, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.session().state(), pb::SESSION_STATE_READY);
  EXPECT_EQ(response.session().server().tls_mode(), pb::TLS_MODE_STARTTLS);
  // Capabilities after TLS + login no longer offer STARTTLS.
  for (const auto& cap : response.session().server().capabilities()) EXPECT_NE(cap, "STARTTLS");
}

TEST_F(broker_fixture, PlainModeNeedsExplicitOptIn) {
  start_broker();
  auto request = imaps_request("plain-demo", "carol");
  request.mutable_spec()->mutable_server()->set_port(dovecot().imap_port());
  request.mutable_spec()->mutable_server()->set_tls_mode(pb::TLS_MODE_PLAIN);
  pb::ConnectResponse response;
  auto s = client_->connect(request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("allow_plaintext"), std::string::npos) << s.error_message();

  request.mutable_spec()->mutable_server()->set_allow_plaintext(true);
  s = client_->connect(request, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(response.session().server().tls_verified());
}

TEST_F(broker_fixture, WrongPasswordIsUnauthenticatedAndFailedWithoutRetries) {
  start_broker();
  pb::ConnectResponse ok_response;
  ASSERT_TRUE(client_->connect(imaps_request("healthy", "bob"), &ok_response).ok());

  auto request = imaps_request("bad-password", "alice");
  const std::string wrong = "not-" + dovecot().password("alice");
  request.mutable_spec()->mutable_auth()->mutable_basic()->mutable_password()->set_inline_value(wrong);
  pb::ConnectResponse response;
  auto s = client_->connect(request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(s.error_message().find("AUTHENTICATIONFAILED"), std::string::npos) << s.error_message();
  EXPECT_EQ(s.error_message().find(wrong), std::string::npos);

  auto st = status_of("bad-password");
  EXPECT_EQ(st.state(), pb::SESSION_STATE_FAILED);
  EXPECT_EQ(st.last_error().code(), "UNAUTHENTICATED");
  std::this_thread::sleep_for(std::chrono::seconds(1));  // a retry storm would show now
  st = status_of("bad-password");
  EXPECT_EQ(st.state(), pb::SESSION_STATE_FAILED);
  EXPECT_EQ(st.reconnect_count(), 0u);
  EXPECT_EQ(st.counters().connects(), 0u);
  EXPECT_EQ(status_of("healthy").state(), pb::SESSION_STATE_READY);
  EXPECT_EQ(captured_logs().find(wrong), std::string::npos);
}

TEST_F(broker_fixture, TwentyBotsShareOneUpstreamConnection) {
  start_broker();
  constexpr int bots = 20;
  std::vector<std::thread> threads;
  std::vector<pb::ConnectResponse> responses(bots);
  std::vector<grpc::Status> statuses(bots);
  for (int i = 0; i < bots; ++i) {
    threads.emplace_back([&, i] {
      // Each bot its own channel, as separate bot processes would have.
      grpc::ChannelArguments args;
      args.SetInt("mb.bot", i);
      auto channel = grpc::CreateCustomChannel(server_->unix_target(), grpc::InsecureChannelCredentials(), args);
      client::broker_client bot(channel);
      auto request = imaps_request("shared-inbox", "dave");
      request.set_client_name("bot-" + std::to_string(i));
      statuses[i] = bot.connect(request, &responses[i]);
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> leases;
  int created = 0;
  for (int i = 0; i < bots; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << statuses[i].error_message();
    leases.insert(responses[i].lease_id());
    created += responses[i].created() ? 1 : 0;
  }
  EXPECT_EQ(leases.size(), static_cast<std::size_t>(bots));
  EXPECT_EQ(created, 1);
  EXPECT_EQ(status_of("shared-inbox").lease_count(), static_cast<std::uint32_t>(bots));
  EXPECT_EQ(status_of("shared-inbox").counters().connects(), 1u);
  EXPECT_EQ(dovecot().who("dave"), 1);
}

TEST_F(broker_fixture, LeaseTtlExpiryThenLingerClosesUpstream) {
  start_broker();
  auto request = imaps_request("short-lease", "carol");
  request.set_lease_ttl_seconds(1);
  request.mutable_spec()->set_linger_seconds(1);
  pb::ConnectResponse response;
  ASSERT_TRUE(client_->connect(request, &response).ok());
  EXPECT_TRUE(wait_for_who("carol", 1));
  // Nobody renews: the lease expires after 1 s, the linger ends 1 s later.
  EXPECT_TRUE(wait_for_state("short-lease", pb::SESSION_STATE_CLOSED, std::chrono::seconds(10)));
  EXPECT_NE(status_of("short-lease").close_reason().find("linger"), std::string::npos);
  EXPECT_TRUE(wait_for_who("carol", 0));
  pb::RenewLeaseResponse renewed;
  EXPECT_EQ(client_->renew(response.lease_id(), &renewed).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(broker_fixture, ShortLeaseTakenOnTheFastPathStillExpires) {
  start_broker();
  auto request = imaps_request("mixed-ttl", "dave");
  request.set_lease_ttl_seconds(60);
  pb::ConnectResponse long_lease;
  ASSERT_TRUE(client_->connect(request, &long_lease).ok());
  // Attaching to a READY session grants on the gRPC thread; the lease timer is armed
  // for the 60 s lease, so this 1 s lease must re-arm it.
  request.set_lease_ttl_seconds(1);
  pb::ConnectResponse short_lease;
  ASSERT_TRUE(client_->connect(request, &short_lease).ok());
  EXPECT_FALSE(short_lease.created());
  EXPECT_EQ(status_of("mixed-ttl").lease_count(), 2u);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (status_of("mixed-ttl").lease_count() != 1 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(status_of("mixed-ttl").lease_count(), 1u);
  pb::RenewLeaseResponse renewed;
  EXPECT_EQ(client_->renew(short_lease.lease_id(), &renewed).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(client_->renew(long_lease.lease_id(), &renewed).ok());
}

TEST_F(broker_fixture, RenewKeepsLeaseAliveAndReleaseStartsLinger) {
  start_broker();
  auto request = imaps_request("renewed", "alice");
  request.set_lease_ttl_seconds(2);
  request.mutable_spec()->set_linger_seconds(2);
  pb::ConnectResponse response;
  ASSERT_TRUE(client_->connect(request, &response).ok());
  for (int i = 0; i < 4; ++i) {  // 3 s in all: past the 2 s TTL only if renewals work
    std::this_thread::sleep_for(std::chrono::milliseconds(750));
    pb::RenewLeaseResponse renewed;
    ASSERT_TRUE(client_->renew(response.lease_id(), &renewed).ok());
  }
  EXPECT_EQ(status_of("renewed").lease_count(), 1u);
  pb::DisconnectResponse released;
  ASSERT_TRUE(client_->disconnect(response.lease_id(), false, &released).ok());
  EXPECT_EQ(released.session().state(), pb::SESSION_STATE_READY);  // lingering, still connected
  EXPECT_TRUE(released.session().has_linger_until());
  EXPECT_TRUE(wait_for_state("renewed", pb::SESSION_STATE_CLOSED, std::chrono::seconds(10)));
}

// A bot letting go of a session others hold ends only its lease (answered on the gRPC
// thread, without the session's strand); the last one to let go starts the linger.
TEST_F(broker_fixture, ReleasingOneOfSeveralLeasesEndsOnlyItAndTheLastStartsTheLinger) {
  start_broker();
  auto request = imaps_request("let-go", "alice");
  request.mutable_spec()->set_linger_seconds(1);
  std::vector<std::string> leases;
  for (int i = 0; i < 3; ++i) {
    pb::ConnectResponse connected;
    ASSERT_TRUE(client_->connect(request, &connected).ok());
    leases.push_back(connected.lease_id());
  }
  pb::DisconnectResponse released;
  ASSERT_TRUE(client_->disconnect(leases[1], false, &released).ok());
  EXPECT_EQ(released.session().lease_count(), 2u);
  EXPECT_FALSE(released.session().has_linger_until());
  EXPECT_EQ(status_of("let-go").lease_count(), 2u);
  EXPECT_EQ(client_->disconnect(leases[1], false, &released).error_code(), grpc::StatusCode::NOT_FOUND);
  pb::RenewLeaseResponse renewed;
  EXPECT_EQ(client_->renew(leases[1], &renewed).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(client_->renew(leases[0], &renewed).ok());

  ASSERT_TRUE(client_->disconnect(leases[0], false, &released).ok());
  EXPECT_EQ(released.session().lease_count(), 1u);
  ASSERT_TRUE(client_->disconnect(leases[2], false, &released).ok());
  EXPECT_EQ(released.session().lease_count(), 0u);
  EXPECT_TRUE(released.session().has_linger_until()) << "the last lease let go: the session lingers";
  EXPECT_TRUE(wait_for_state("let-go", pb::SESSION_STATE_CLOSED, std::chrono::seconds(10)));
}

TEST_F(broker_fixture, AttachDuringLingerCancelsIt) {
  start_broker();
  auto request = imaps_request("relinger", "bob");
  request.mutable_spec()->set_linger_seconds(2);
  pb::ConnectResponse first;
  ASSERT_TRUE(client_->connect(request, &first).ok());
  pb::DisconnectResponse released;
  ASSERT_TRUE(client_->disconnect(first.lease_id(), false, &released).ok());
  pb::ConnectResponse second;
  ASSERT_TRUE(client_->connect(request, &second).ok());
  EXPECT_FALSE(second.created());
  std::this_thread::sleep_for(std::chrono::seconds(3));
  auto st = status_of("relinger");
  EXPECT_EQ(st.state(), pb::SESSION_STATE_READY);
  EXPECT_FALSE(st.has_linger_until());
  EXPECT_EQ(st.counters().connects(), 1u);
}

TEST_F(broker_fixture, DifferentSpecUnderLiveNameNeedsReplace) {
  start_broker();
  pb::ConnectResponse response;
  ASSERT_TRUE(client_->connect(imaps_request("contested", "alice"), &response).ok());

  auto other_user = imaps_request("contested", "bob");
  auto s = client_->connect(other_user, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("spec.auth.basic.username"), std::string::npos) << s.error_message();

  // Same user, another password: never attaches to the live session.
  auto wrong_password = imaps_request("contested", "alice");
  wrong_password.mutable_spec()->mutable_auth()->mutable_basic()->mutable_password()->set_inline_value("guess");
  s = client_->connect(wrong_password, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("spec.auth.basic.password"), std::string::npos) << s.error_message();
  EXPECT_EQ(s.error_message().find("guess"), std::string::npos);

  // Host compared case-insensitively: same session.
  auto upper = imaps_request("contested", "alice");
  upper.mutable_spec()->mutable_server()->set_host("LOCALHOST");
  auto lower_req = imaps_request("contested-case", "alice");
  lower_req.mutable_spec()->mutable_server()->set_host("localhost");
  ASSERT_TRUE(client_->connect(lower_req, &response).ok());
  upper.set_session("contested-case");
  ASSERT_TRUE(client_->connect(upper, &response).ok()) << "LOCALHOST should match localhost";
  EXPECT_FALSE(response.created());

  other_user.set_replace(true);
  s = client_->connect(other_user, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(response.created());
  EXPECT_EQ(response.session().username(), "bob");
}

// Issue #10: a request whose bytes do not parse (here invalid UTF-8 in a proto3 string
// field, which protobuf refuses) was UNIMPLEMENTED with an empty message and a raw
// libprotobuf line on stderr. Sent by hand through a generic stub.
grpc::Status raw_call(const std::string& target, const std::string& method, const std::string& bytes) {
  grpc::GenericStub stub(client::make_channel(target));
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  return done.get_future().get();
}

TEST_F(broker_fixture, InvalidUtf8InAStringFieldIsInvalidArgumentNamingTheField) {
  install_log_capture();
  start_broker();
  // ConnectRequest { session (1) = "\xff\xfebot" }
  const std::string bytes = std::string("\x0a\x05") + "\xff\xfe" + "bot";
  auto st = raw_call(server_->unix_target(), "/mailbroker.v1.SessionBroker/Connect", bytes);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_NE(st.error_message().find("/mailbroker.v1.SessionBroker/Connect"), std::string::npos) << st.error_message();
  EXPECT_NE(st.error_message().find("'mailbroker.v1.ConnectRequest.session' is not valid UTF-8"), std::string::npos)
      << st.error_message();
  EXPECT_NE(captured_logs().find("rejected a request: request to /mailbroker.v1.SessionBroker/Connect"),
            std::string::npos)
      << "logged through spdlog, in the daemon's format";

  // Bytes that are no protobuf at all: still INVALID_ARGUMENT, naming the method.
  st = raw_call(server_->unix_target(), "/mailbroker.v1.SessionBroker/Connect", "\xff\xff\xff\xff");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_NE(st.error_message().find("could not be parsed"), std::string::npos) << st.error_message();

  // A well-formed request still reaches its handler (which names the bad session name).
  st = raw_call(server_->unix_target(), "/mailbroker.v1.SessionBroker/Connect", std::string("\x0a\x03" "a b"));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_EQ(st.error_message().find("could not be parsed"), std::string::npos) << st.error_message();

  // An unknown method stays UNIMPLEMENTED.
  st = raw_call(server_->unix_target(), "/mailbroker.v1.SessionBroker/NoSuchMethod", "");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNIMPLEMENTED) << st.error_message();
}

}  // namespace
}  // namespace mailbroker::testing
