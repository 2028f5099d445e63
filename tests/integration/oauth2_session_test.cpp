// OAuth2 client-credentials sessions against a real authorization server
// (oidc-provider) and a Dovecot that validates its tokens by introspection.
#include <gtest/gtest.h>

#include <thread>

#include "support/broker_fixture.hpp"
#include "support/oauth2_testbed.hpp"

namespace mailbroker::testing {
namespace {

constexpr int access_ttl_seconds = shared_access_ttl_seconds;

class oauth2_sessions : public broker_fixture {
 protected:
  void SetUp() override {
    broker_fixture::SetUp();
    (void)shared_oauth2();
  }

  pb::ConnectRequest cc_request(const std::string& session) {
    auto& o = shared_oauth2();
    pb::ConnectRequest r;
    r.set_session(session);
    r.set_client_name("oauth2-test");
    auto* server = r.mutable_spec()->mutable_server();
    server->set_host("127.0.0.1");
    server->set_port(o.dovecot().imaps_port());
    server->set_tls_mode(pb::TLS_MODE_IMPLICIT);
    server->mutable_tls()->set_ca_file(o.dovecot().ca_file());
    auto* cc = r.mutable_spec()->mutable_auth()->mutable_oauth2_client_credentials();
    cc->set_provider(pb::OAUTH2_PROVIDER_CUSTOM);
    cc->set_token_url(o.env("OAUTH2_TOKEN_URL"));
    cc->set_token_ca_file(o.env("OAUTH2_CA_FILE"));
    cc->set_client_id(o.env("OAUTH2_CC_CLIENT_ID"));
    cc->mutable_client_secret()->set_inline_value(o.env("OAUTH2_CC_CLIENT_SECRET"));
    cc->add_scopes(o.env("OAUTH2_SCOPE"));
    cc->set_username(o.env("OAUTH2_CC_MAIL_USER"));
    return r;
  }
  int who_mail_user() { return shared_oauth2().dovecot().who(shared_oauth2().env("OAUTH2_CC_MAIL_USER")); }
};

TEST_F(oauth2_sessions, ClientCredentialsLogInWithAFetchedToken) {
  start_broker();
  pb::ConnectResponse response;
  auto s = client_->connect(cc_request("cc-basic"), &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const auto& st = response.session();
  EXPECT_EQ(st.state(), pb::SESSION_STATE_READY);
  EXPECT_EQ(st.auth_mode(), "oauth2_client_credentials");
  EXPECT_EQ(st.token().mechanism(), "OAUTHBEARER");
  EXPECT_GE(st.token().refresh_count(), 1u);
  EXPECT_TRUE(st.token().has_valid_until());
  EXPECT_EQ(who_mail_user(), 1);
  pb::DisconnectResponse d;
  ASSERT_TRUE(client_->disconnect(response.lease_id(), true, &d).ok());
  EXPECT_TRUE(wait_for_state("cc-basic", pb::SESSION_STATE_CLOSED));
}

TEST_F(oauth2_sessions, ReconnectsReauthenticateAcrossFiveTokenLifetimes) {
  daemon::daemon_config config;
  config.registry.session.reconnect.initial = std::chrono::milliseconds(100);
  start_broker(config);
  pb::ConnectResponse response;
  ASSERT_TRUE(client_->connect(cc_request("cc-long"), &response).ok());
  const auto user = shared_oauth2().env("OAUTH2_CC_MAIL_USER");
  for (int lifetime = 1; lifetime <= 5; ++lifetime) {
    std::this_thread::sleep_for(std::chrono::seconds(access_ttl_seconds));
    // By now the first token is dead: a new connection only works with a new one.
    shared_oauth2().dovecot().kick(user);
    // READY again after a new login (polling for the short BACKOFF in between could miss it).
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    pb::SessionStatus now;
    do {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      now = status_of("cc-long");
    } while ((now.counters().connects() != static_cast<std::uint64_t>(lifetime) + 1 ||
              now.state() != pb::SESSION_STATE_READY) &&
             std::chrono::steady_clock::now() < until);
    ASSERT_EQ(now.state(), pb::SESSION_STATE_READY) << lifetime;
    ASSERT_EQ(now.counters().connects(), static_cast<std::uint64_t>(lifetime) + 1) << lifetime;
    ASSERT_EQ(now.reconnect_count(), static_cast<std::uint32_t>(lifetime)) << lifetime;
    pb::ConnectResponse attach;
    ASSERT_TRUE(client_->connect(cc_request("cc-long"), &attach).ok()) << lifetime;
    EXPECT_FALSE(attach.created());
  }
  const auto st = status_of("cc-long");
  EXPECT_EQ(st.reconnect_count(), 5u);
  EXPECT_EQ(st.counters().connects(), 6u);
  EXPECT_GE(st.token().refresh_count(), 6u);
  EXPECT_FALSE(st.token().has_last_refresh_error());
}

TEST_F(oauth2_sessions, FiftySessionsShareOneTokenRequestPerRefresh) {
  start_broker();
  // Let any token cached by earlier tests go stale, so this test starts cold.
  std::this_thread::sleep_for(std::chrono::seconds(access_ttl_seconds));
  shared_oauth2().reset_stats();
  constexpr int sessions = 50;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < sessions; ++i) {
    threads.emplace_back([&, i] {
      pb::ConnectResponse r;
      if (client_->connect(cc_request("cc-many-" + std::to_string(i)), &r).ok()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), sessions);
  EXPECT_EQ(shared_oauth2().token_requests(), 1);

  // Next refresh cycle: every session reconnects with a new token, fetched once.
  std::this_thread::sleep_for(std::chrono::seconds(access_ttl_seconds));
  shared_oauth2().reset_stats();
  shared_oauth2().dovecot().kick(shared_oauth2().env("OAUTH2_CC_MAIL_USER"));
  // READY alone could be the state before the kick was noticed: wait for the second login.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (int i = 0; i < sessions; ++i) {
    const std::string name = "cc-many-" + std::to_string(i);
    auto relogged = [&] {
      const auto st = status_of(name);
      return st.state() == pb::SESSION_STATE_READY && st.counters().connects() == 2;
    };
    while (!relogged() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_TRUE(relogged()) << name;
  }
  EXPECT_EQ(shared_oauth2().token_requests(), 1);
  EXPECT_EQ(who_mail_user(), sessions);
}

TEST_F(oauth2_sessions, WrongClientSecretIsUnauthenticatedAndFailed) {
  start_broker();
  auto request = cc_request("cc-wrong-secret");
  const std::string wrong = "wrong-" + shared_oauth2().env("OAUTH2_CC_CLIENT_SECRET");
  request.mutable_spec()->mutable_auth()->mutable_oauth2_client_credentials()->mutable_client_secret()->set_inline_value(
      wrong);
  pb::ConnectResponse response;
  auto s = client_->connect(request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  EXPECT_NE(s.error_message().find("invalid_client"), std::string::npos) << s.error_message();
  EXPECT_EQ(s.error_message().find(wrong), std::string::npos);
  EXPECT_EQ(status_of("cc-wrong-secret").state(), pb::SESSION_STATE_FAILED);
}

TEST_F(oauth2_sessions, ValidationNamesTheField) {
  start_broker();
  auto gmail = cc_request("cc-gmail");
  gmail.mutable_spec()->mutable_auth()->mutable_oauth2_client_credentials()->set_provider(pb::OAUTH2_PROVIDER_GOOGLE);
  pb::ConnectResponse response;
  auto s = client_->connect(gmail, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("provider"), std::string::npos) << s.error_message();

  auto microsoft = cc_request("cc-ms");
  auto* cc = microsoft.mutable_spec()->mutable_auth()->mutable_oauth2_client_credentials();
  cc->set_provider(pb::OAUTH2_PROVIDER_MICROSOFT);
  cc->clear_token_url();
  s = client_->connect(microsoft, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("tenant_id"), std::string::npos) << s.error_message();
}

TEST_F(oauth2_sessions, SecretsNeverReachLogsOrStatus) {
  start_broker();
  pb::ConnectResponse response;
  ASSERT_TRUE(client_->connect(cc_request("cc-secret-check"), &response).ok());
  pb::StatusResponse st;
  ASSERT_TRUE(client_->status("", &st).ok());
  const std::string everything = st.DebugString() + response.DebugString() + captured_logs();
  EXPECT_EQ(everything.find(shared_oauth2().env("OAUTH2_CC_CLIENT_SECRET")), std::string::npos);
  EXPECT_EQ(everything.find("Bearer"), std::string::npos);
}

}  // namespace
}  // namespace mailbroker::testing
