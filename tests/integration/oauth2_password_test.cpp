// OAuth2 password-grant (ROPC, RFC 6749 4.3) sessions against the testbed's
// authorization server (oidc-provider with our registered password grant) and a Dovecot
// that validates the tokens it issues by introspection; and the refused implicit grant.
#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

#include "support/broker_fixture.hpp"
#include "support/ews_testbed.hpp"
#include "support/oauth2_testbed.hpp"
#include "support/trust_support.hpp"

namespace mailbroker::testing {
namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class oauth2_password_sessions : public broker_fixture {
 protected:
  void SetUp() override {
    broker_fixture::SetUp();
    (void)shared_oauth2();
  }

  // The account's password at the authorization server (OAUTH2_ACCOUNT_PASSWORDS is
  // USER:PASSWORD,...). Not the user's Dovecot password: the IdP alone checks it.
  static std::string idp_password(const std::string& user) {
    const std::string all = "," + shared_oauth2().env("OAUTH2_ACCOUNT_PASSWORDS");
    const auto at = all.find("," + user + ":");
    if (at == std::string::npos) throw std::runtime_error("no password for " + user + " in OAUTH2_ACCOUNT_PASSWORDS");
    const auto begin = at + user.size() + 2;
    return all.substr(begin, all.find(',', begin) - begin);
  }

  static pb::ConnectRequest ropc_request(const std::string& session, const std::string& user,
                                         const std::string& password, bool public_client = false) {
    auto& o = shared_oauth2();
    pb::ConnectRequest r;
    r.set_session(session);
    r.set_client_name("oauth2-password-test");
    auto* server = r.mutable_spec()->mutable_server();
    server->set_host("127.0.0.1");
    server->set_port(o.dovecot().imaps_port());
    server->set_tls_mode(pb::TLS_MODE_IMPLICIT);
    server->mutable_tls()->set_ca_file(o.dovecot().ca_file());
    auto* p = r.mutable_spec()->mutable_auth()->mutable_oauth2_password();
    p->set_provider(pb::OAUTH2_PROVIDER_CUSTOM);
    p->set_token_url(o.env("OAUTH2_TOKEN_URL"));
    p->set_token_ca_file(o.env("OAUTH2_CA_FILE"));
    if (public_client) {
      p->set_client_id(o.env("OAUTH2_ROPC_PUBLIC_CLIENT_ID"));
    } else {
      p->set_client_id(o.env("OAUTH2_ROPC_CLIENT_ID"));
      p->mutable_client_secret()->set_inline_value(o.env("OAUTH2_ROPC_CLIENT_SECRET"));
    }
    p->add_scopes(o.env("OAUTH2_SCOPE"));
    p->set_username(user);
    p->mutable_password()->set_inline_value(password);
    return r;
  }

  static int password_grants() { return shared_oauth2().stat("token_requests.password"); }
  static int failed_password_grants() { return shared_oauth2().stat("token_errors.password"); }
};

TEST_F(oauth2_password_sessions, PasswordGrantTokenLogsInThroughDovecotsIntrospection) {
  start_broker();
  shared_oauth2().reset_stats();
  pb::ConnectResponse response;
  auto s = client_->connect(ropc_request("ropc-basic", "bob", idp_password("bob")), &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const auto& st = response.session();
  EXPECT_EQ(st.state(), pb::SESSION_STATE_READY);
  EXPECT_EQ(st.auth_mode(), "oauth2_password");
  EXPECT_EQ(st.username(), "bob");
  EXPECT_EQ(st.token().mechanism(), "OAUTHBEARER");
  EXPECT_GE(st.token().refresh_count(), 1u);
  EXPECT_TRUE(st.token().has_valid_until());
  EXPECT_EQ(password_grants(), 1);
  // Dovecot accepted the token only after asking the server: an active token for bob.
  EXPECT_GE(shared_oauth2().stat("introspection_active"), 1);
  EXPECT_GE(shared_oauth2().dovecot().who("bob"), 1);

  pb::DisconnectResponse d;
  ASSERT_TRUE(client_->disconnect(response.lease_id(), true, &d).ok());
  EXPECT_TRUE(wait_for_state("ropc-basic", pb::SESSION_STATE_CLOSED));
}

TEST_F(oauth2_password_sessions, PublicClientAndTwoUsersNeverShareAToken) {
  start_broker();
  shared_oauth2().reset_stats();
  pb::ConnectResponse carol, dave, carol_again;
  auto s = client_->connect(ropc_request("ropc-carol", "carol", idp_password("carol"), true), &carol);
  ASSERT_TRUE(s.ok()) << s.error_message();
  s = client_->connect(ropc_request("ropc-dave", "dave", idp_password("dave"), true), &dave);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(carol.session().state(), pb::SESSION_STATE_READY);
  EXPECT_EQ(dave.session().state(), pb::SESSION_STATE_READY);
  EXPECT_EQ(password_grants(), 2) << "one token per user";
  // A second session of carol with the same client and password shares her token.
  s = client_->connect(ropc_request("ropc-carol-2", "carol", idp_password("carol"), true), &carol_again);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(carol_again.session().state(), pb::SESSION_STATE_READY);
  EXPECT_EQ(password_grants(), 2);
}

// EWS (the seed's "OAuth2-ROPC"): the token goes out as an HTTP Bearer token, which the
// fake EWS server checks by introspection at the same authorization server.
TEST_F(oauth2_password_sessions, EwsSessionSendsThePasswordGrantTokenAsBearer) {
  auto& o = shared_oauth2();
  ews_testbed ews("MB_EWS_OAUTH2_INTROSPECT_URL=" + o.env("OAUTH2_INTROSPECT_URL_FOR_DOVECOT") + " ");
  start_broker();
  auto request = ropc_request("ropc-ews", "bob", idp_password("bob"));
  auto* spec = request.mutable_spec();
  spec->set_protocol(pb::PROTOCOL_EWS);
  spec->mutable_server()->clear_host();
  spec->mutable_server()->clear_port();
  spec->mutable_server()->mutable_tls()->set_ca_file(ews.ca_file());
  spec->mutable_ews()->set_url(ews.ews_url());
  pb::ConnectResponse response;
  auto s = client_->connect(request, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.session().state(), pb::SESSION_STATE_READY);
  EXPECT_EQ(response.session().auth_mode(), "oauth2_password");
  const auto counters = ews.counters();
  EXPECT_GE(counters.at("soap_requests"), 1) << "an authenticated SOAP request reached the server";
  EXPECT_TRUE(contains(ews.requests(), "\"bob\"")) << "the fake saw bob's token";
  EXPECT_FALSE(contains(ews.requests(), idp_password("bob")));
}

TEST_F(oauth2_password_sessions, ExpiredTokensAreReplacedByANewPasswordGrant) {
  daemon::daemon_config config;
  config.registry.session.reconnect.initial = std::chrono::milliseconds(100);
  start_broker(config);
  pb::ConnectResponse response;
  ASSERT_TRUE(client_->connect(ropc_request("ropc-long", "bob", idp_password("bob")), &response).ok());
  const int before = password_grants();
  // Until the first token is dead (its lifetime is the server's: other tests restart it
  // with other settings), so the new connection needs a new grant (no refresh token).
  const auto& valid_until = response.session().token().valid_until();
  ASSERT_GT(valid_until.seconds(), 0);
  std::this_thread::sleep_until(std::chrono::system_clock::time_point(std::chrono::seconds(valid_until.seconds()) +
                                                                      std::chrono::milliseconds(200)));
  shared_oauth2().dovecot().kick("bob");
  EXPECT_TRUE(wait_for_status("ropc-long", [](const pb::SessionStatus& st) {
    return st.state() == pb::SESSION_STATE_READY && st.counters().connects() == 2;
  })) << status_of("ropc-long").DebugString();
  EXPECT_GT(password_grants(), before);
  EXPECT_EQ(shared_oauth2().stat("token_requests.refresh_token"), 0);
  EXPECT_FALSE(status_of("ropc-long").token().has_last_refresh_error());
}

TEST_F(oauth2_password_sessions, WrongPasswordIsUnauthenticatedAndNeverShown) {
  start_broker();
  shared_oauth2().reset_stats();
  const std::string wrong = "Wrong-" + idp_password("bob") + "-pw";
  pb::ConnectResponse response;
  auto s = client_->connect(ropc_request("ropc-wrong", "bob", wrong), &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  EXPECT_TRUE(contains(s.error_message(), "invalid_grant")) << s.error_message();
  EXPECT_TRUE(contains(s.error_message(), "bob")) << "names whose password to check: " << s.error_message();
  EXPECT_EQ(status_of("ropc-wrong").state(), pb::SESSION_STATE_FAILED);
  EXPECT_EQ(failed_password_grants(), 1) << "a rejected password is not retried";

  // Another user's correct password is wrong for bob too.
  s = client_->connect(ropc_request("ropc-other", "bob", idp_password("carol")), &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();

  pb::StatusResponse st;
  ASSERT_TRUE(client_->status("", &st).ok());
  const std::string everything = s.error_message() + st.DebugString() + captured_logs();
  EXPECT_FALSE(contains(everything, wrong));
  EXPECT_FALSE(contains(everything, idp_password("carol")));
  EXPECT_FALSE(contains(everything, shared_oauth2().env("OAUTH2_ROPC_CLIENT_SECRET")));
}

TEST_F(oauth2_password_sessions, PasswordAndSecretNeverReachLogsOrStatusOnSuccess) {
  start_broker();
  pb::ConnectResponse response;
  ASSERT_TRUE(client_->connect(ropc_request("ropc-secret-check", "bob", idp_password("bob")), &response).ok());
  pb::StatusResponse st;
  ASSERT_TRUE(client_->status("", &st).ok());
  const std::string everything = st.DebugString() + response.DebugString() + captured_logs();
  EXPECT_FALSE(contains(everything, idp_password("bob")));
  EXPECT_FALSE(contains(everything, shared_oauth2().env("OAUTH2_ROPC_CLIENT_SECRET")));
  EXPECT_FALSE(contains(everything, "Bearer"));
}

TEST_F(oauth2_password_sessions, FieldsAreCheckedBeforeAnythingIsSent) {
  start_broker();
  shared_oauth2().reset_stats();
  pb::ConnectResponse response;
  auto no_password = ropc_request("ropc-no-password", "bob", "");
  no_password.mutable_spec()->mutable_auth()->mutable_oauth2_password()->clear_password();
  auto s = client_->connect(no_password, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(contains(s.error_message(), "spec.auth.oauth2_password.password")) << s.error_message();

  auto google = ropc_request("ropc-google", "bob", idp_password("bob"));
  google.mutable_spec()->mutable_auth()->mutable_oauth2_password()->set_provider(pb::OAUTH2_PROVIDER_GOOGLE);
  s = client_->connect(google, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(contains(s.error_message(), "spec.auth.oauth2_password.provider")) << s.error_message();
  EXPECT_EQ(shared_oauth2().token_requests(), 0);
}

TEST_F(oauth2_password_sessions, ImplicitGrantIsRefusedWithTheGrantsToUseInstead) {
  start_broker();
  auto request = ropc_request("implicit", "bob", idp_password("bob"));
  auto* implicit = request.mutable_spec()->mutable_auth()->mutable_oauth2_implicit();
  implicit->set_client_id("app-id");
  implicit->set_tenant_id("contoso");
  implicit->set_redirect_uri("http://localhost:9999/callback");
  pb::ConnectResponse response;
  auto s = client_->connect(request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_EQ(s.error_message().rfind("spec.auth.oauth2_implicit: ", 0), 0u) << s.error_message();
  EXPECT_TRUE(contains(s.error_message(), "no refresh token")) << s.error_message();
  EXPECT_TRUE(contains(s.error_message(), "oauth2_authorization_code")) << s.error_message();
  EXPECT_TRUE(contains(s.error_message(), "mailbroker authorize")) << s.error_message();
  EXPECT_TRUE(contains(s.error_message(), "oauth2_client_credentials")) << s.error_message();
  EXPECT_EQ(status_of("implicit").name(), "") << "no session was created";
}

// The CLI's flags build the same spec: --oauth2-grant password with the password from a
// password source and the client secret from --oauth2-client-secret-*; implicit refused.
TEST_F(oauth2_password_sessions, CliConnectsWithThePasswordGrantAndRelaysTheImplicitRefusal) {
  start_broker();
  auto& o = shared_oauth2();
  ASSERT_EQ(::setenv("MB_TEST_ROPC_PASSWORD", idp_password("bob").c_str(), 1), 0);
  ASSERT_EQ(::setenv("MB_TEST_ROPC_SECRET", o.env("OAUTH2_ROPC_CLIENT_SECRET").c_str(), 1), 0);
  const std::string common = std::string(MB_CLI_PATH) + " --target unix:" + socket_dir_ + "/d.sock --timeout 20 connect ";
  const std::string server = " --host 127.0.0.1 --port " + std::to_string(o.dovecot().imaps_port()) +
                             " --ca-file " + shell_quote(o.dovecot().ca_file()) + " --user bob";
  const std::string oauth = " --oauth2-client-id " + o.env("OAUTH2_ROPC_CLIENT_ID") + " --oauth2-token-url " +
                            shell_quote(o.env("OAUTH2_TOKEN_URL")) + " --oauth2-token-ca-file " +
                            shell_quote(o.env("OAUTH2_CA_FILE")) + " --oauth2-scope imap";
  auto ok = run_shell(common + "ropc-cli" + server + oauth +
                      " --oauth2-grant password --password-env MB_TEST_ROPC_PASSWORD"
                      " --oauth2-client-secret-env MB_TEST_ROPC_SECRET");
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_TRUE(contains(ok.out, "READY")) << ok.out << ok.err;
  EXPECT_EQ(status_of("ropc-cli").auth_mode(), "oauth2_password");

  auto secret_without_grant = run_shell(common + "ropc-cli-4" + server + oauth +
                                       " --password-env MB_TEST_ROPC_PASSWORD"
                                       " --oauth2-client-secret-env MB_TEST_ROPC_SECRET");
  EXPECT_EQ(secret_without_grant.exit_code, 2) << secret_without_grant.err;
  EXPECT_TRUE(contains(secret_without_grant.err, "--oauth2-grant password")) << secret_without_grant.err;

  auto on_argv = run_shell(common + "ropc-cli-2" + server + oauth +
                           " --oauth2-grant password --password-env MB_TEST_ROPC_PASSWORD --oauth2-client-secret x");
  EXPECT_NE(on_argv.exit_code, 0);
  EXPECT_TRUE(contains(on_argv.err, "--oauth2-client-secret is refused")) << on_argv.err;

  auto implicit = run_shell(common + "ropc-cli-3" + server + " --oauth2-client-id app --oauth2-grant implicit");
  EXPECT_NE(implicit.exit_code, 0);
  EXPECT_TRUE(contains(implicit.err, "INVALID_ARGUMENT")) << implicit.err;
  EXPECT_TRUE(contains(implicit.err, "oauth2_authorization_code")) << implicit.err;
  ::unsetenv("MB_TEST_ROPC_PASSWORD");
  ::unsetenv("MB_TEST_ROPC_SECRET");
}

}  // namespace
}  // namespace mailbroker::testing
