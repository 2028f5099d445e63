// Delegated OAuth2 against a real authorization server (oidc-provider) and a Dovecot that
// validates its tokens: authorization code + PKCE driven headlessly, refresh tokens
// (rotation persisted, revocation), managed connections, the encrypted store across a
// daemon restart, and the token endpoint going away.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "client/authorize.hpp"
#include "client/vault_client.hpp"
#include "store/secret_key.hpp"
#include "store/state_store.hpp"
#include "support/broker_fixture.hpp"
#include "support/oauth2_testbed.hpp"

namespace mailbroker::testing {
namespace {

// A free loopback port for the redirect listener (bound and released: the tiny race
// with other processes is acceptable in tests).
std::uint16_t free_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

class oauth2_delegated : public broker_fixture {
 protected:
  void SetUp() override {
    broker_fixture::SetUp();
    (void)shared_oauth2();
  }

  oauth2_testbed& o() { return shared_oauth2(); }

  // The PKCE client of the testbed, as a session would name it.
  void fill_code_auth(pb::OAuth2AuthorizationCode* ac, const std::string& user) {
    ac->set_provider(pb::OAUTH2_PROVIDER_CUSTOM);
    ac->set_client_id(o().env("OAUTH2_PKCE_CLIENT_ID"));
    ac->set_authorize_url(o().env("OAUTH2_AUTHORIZE_URL"));
    ac->set_token_url(o().env("OAUTH2_TOKEN_URL"));
    ac->set_token_ca_file(o().env("OAUTH2_CA_FILE"));
    ac->add_scopes(o().env("OAUTH2_SCOPE"));
    ac->set_username(user);
    ac->set_redirect_uri(redirect_uri_);
  }

  pb::ConnectRequest server_request(const std::string& session) {
    pb::ConnectRequest r;
    r.set_session(session);
    r.set_client_name("oauth2-delegated-test");
    auto* server = r.mutable_spec()->mutable_server();
    server->set_host("127.0.0.1");
    server->set_port(o().dovecot().imaps_port());
    server->mutable_tls()->set_ca_file(o().dovecot().ca_file());
    return r;
  }

  pb::ConnectRequest code_request(const std::string& session, const std::string& user) {
    auto r = server_request(session);
    fill_code_auth(r.mutable_spec()->mutable_auth()->mutable_oauth2_authorization_code(), user);
    return r;
  }

  // The whole browser flow for `request`; returns the daemon's answer.
  grpc::Status authorize(const pb::BeginAuthorizationRequest& request, pb::CompleteAuthorizationResponse* out) {
    std::thread browser;
    auto st = client::authorize(
        *client_, request,
        [&](const pb::BeginAuthorizationResponse& begun) { browser = o().play_browser(begun.authorization_url()); },
        std::chrono::seconds(30), out);
    if (browser.joinable()) browser.join();
    return st;
  }

  grpc::Status authorize_session(const std::string& session, const std::string& user,
                                 pb::CompleteAuthorizationResponse* out) {
    pb::BeginAuthorizationRequest request;
    request.set_session(session);
    request.set_login_hint(user);
    fill_code_auth(request.mutable_auth()->mutable_oauth2_authorization_code(), user);
    return authorize(request, out);
  }

  // The refresh token the daemon stored under `key`, read from its store file (SQLite
  // allows a second reader; the key file is the daemon's).
  std::string stored_refresh_token(const std::string& key) {
    auto k = store::load_key_file(state_dir() + "/vault.key");
    if (!k) return "key: " + k.err().message;
    auto s = store::state_store::open(state_dir() + "/mailbroker.db", std::move(k.value()));
    if (!s) return "store: " + s.err().message;
    auto token = s.value()->get_refresh_token(key);
    if (!token || !token->has_value()) return {};
    return **token;
  }

  std::string state_dir() const { return socket_dir_ + "/state"; }

  std::string redirect_uri_ = "http://127.0.0.1:" + std::to_string(free_port()) + "/callback";
};

TEST_F(oauth2_delegated, PkceAuthorizationThenSessionRefreshesByItself) {
  start_broker();
  const int authorizations = o().stat("authorization_requests");
  pb::CompleteAuthorizationResponse done;
  auto st = authorize_session("ac-basic", "bob", &done);
  ASSERT_TRUE(st.ok()) << st.error_code() << ": " << st.error_message();
  EXPECT_EQ(done.token_key(), "session:ac-basic");
  EXPECT_TRUE(done.persisted());
  EXPECT_TRUE(done.has_access_token_valid_until());
  EXPECT_EQ(o().stat("authorization_requests"), authorizations + 1);
  const std::string refresh_token = stored_refresh_token("session:ac-basic");
  ASSERT_FALSE(refresh_token.empty());

  pb::ConnectResponse response;
  st = client_->connect(code_request("ac-basic", "bob"), &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(response.session().state(), pb::SESSION_STATE_READY);
  EXPECT_EQ(response.session().auth_mode(), "oauth2_authorization_code");
  EXPECT_EQ(response.session().token().mechanism(), "OAUTHBEARER");
  EXPECT_EQ(o().dovecot().who("bob"), 1);

  // After the access token's lifetime a new connection refreshes by itself.
  const int before = o().stat("token_requests.refresh_token");
  std::this_thread::sleep_for(std::chrono::seconds(shared_access_ttl_seconds));
  o().dovecot().kick("bob");
  ASSERT_TRUE(wait_for_status("ac-basic", [](const pb::SessionStatus& s) {
    return s.state() == pb::SESSION_STATE_READY && s.counters().connects() == 2;
  }));
  EXPECT_GE(o().stat("token_requests.refresh_token"), before + 1);
  // Rotation is on: the server answered with a new refresh token, stored at once.
  const std::string rotated = stored_refresh_token("session:ac-basic");
  EXPECT_FALSE(rotated.empty());
  EXPECT_NE(rotated, refresh_token);

  const auto logs = captured_logs();
  EXPECT_EQ(logs.find(refresh_token), std::string::npos);
  EXPECT_EQ(logs.find(rotated), std::string::npos);
}

TEST_F(oauth2_delegated, DaemonRestartBringsSessionsBackWithoutReauthorizing) {
  start_broker();
  pb::CompleteAuthorizationResponse done;
  ASSERT_TRUE(authorize_session("ac-restart", "carol", &done).ok());
  pb::ConnectResponse response;
  ASSERT_TRUE(client_->connect(code_request("ac-restart", "carol"), &response).ok());
  ASSERT_TRUE(client_->connect(imaps_request("basic-restart", "dave"), &response).ok());
  const std::string before = stored_refresh_token("session:ac-restart");
  const int authorizations = o().stat("authorization_requests");

  // Let the access token go stale, so the restarted daemon must use the stored refresh token.
  std::this_thread::sleep_for(std::chrono::seconds(shared_access_ttl_seconds));
  start_broker();  // same state directory: SIGTERM-like drain, then a fresh daemon
  EXPECT_TRUE(wait_for_state("ac-restart", pb::SESSION_STATE_READY, std::chrono::seconds(15)));
  EXPECT_TRUE(wait_for_state("basic-restart", pb::SESSION_STATE_READY, std::chrono::seconds(15)));
  EXPECT_EQ(o().dovecot().who("carol"), 1);
  EXPECT_TRUE(wait_for_who("dave", 1));
  EXPECT_EQ(o().stat("authorization_requests"), authorizations);  // nobody went to a browser
  EXPECT_NE(stored_refresh_token("session:ac-restart"), before);   // rotated and persisted

  // Bots attach to the restored session as before.
  pb::ConnectResponse attach;
  ASSERT_TRUE(client_->connect(code_request("ac-restart", "carol"), &attach).ok());
  EXPECT_FALSE(attach.created());
  EXPECT_EQ(o().dovecot().who("carol"), 1);
  pb::DisconnectResponse d;
  ASSERT_TRUE(client_->disconnect(attach.lease_id(), true, &d).ok());
  ASSERT_TRUE(wait_for_state("ac-restart", pb::SESSION_STATE_CLOSED));

  // A session closed for good is not brought back by the next restart.
  start_broker();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(status_of("ac-restart").name(), "");
  EXPECT_TRUE(wait_for_state("basic-restart", pb::SESSION_STATE_READY));
}

TEST_F(oauth2_delegated, RevokedRefreshTokenFailsWithTheReauthorizeMessage) {
  start_broker();
  pb::CompleteAuthorizationResponse done;
  ASSERT_TRUE(authorize_session("ac-revoked", "bob", &done).ok());
  const std::string refresh_token = stored_refresh_token("session:ac-revoked");
  ASSERT_FALSE(refresh_token.empty());
  o().revoke_refresh_token(refresh_token);
  // The access token the code exchange gave is stale after 80 % of its life.
  std::this_thread::sleep_for(std::chrono::seconds(shared_access_ttl_seconds));

  pb::ConnectResponse response;
  auto st = client_->connect(code_request("ac-revoked", "bob"), &response);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
  EXPECT_NE(st.error_message().find("invalid_grant"), std::string::npos) << st.error_message();
  EXPECT_NE(st.error_message().find("mailbroker authorize ac-revoked"), std::string::npos) << st.error_message();
  EXPECT_EQ(st.error_message().find(refresh_token), std::string::npos);
  EXPECT_EQ(status_of("ac-revoked").state(), pb::SESSION_STATE_FAILED);
  // The rejected token stays stored: only a new authorization replaces it.
  EXPECT_EQ(stored_refresh_token("session:ac-revoked"), refresh_token);
}

TEST_F(oauth2_delegated, NoRefreshTokenYetSaysToAuthorizeFirst) {
  start_broker();
  pb::ConnectResponse response;
  auto st = client_->connect(code_request("ac-never", "bob"), &response);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << st.error_message();
  EXPECT_NE(st.error_message().find("mailbroker authorize ac-never"), std::string::npos) << st.error_message();
}

TEST_F(oauth2_delegated, ManagedPerUserConnectionAuthorizesEachUserOnce) {
  daemon::daemon_config config;
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"provider", "custom"},
           {"grant", "authorization_code"},
           {"token-type", "per-user"},
           {"client-id", o().env("OAUTH2_PKCE_CLIENT_ID")},
           {"authorize-url", o().env("OAUTH2_AUTHORIZE_URL")},
           {"token-url", o().env("OAUTH2_TOKEN_URL")},
           {"ca-file", o().env("OAUTH2_CA_FILE")},
           {"scopes", o().env("OAUTH2_SCOPE")},
           {"redirect-uri", redirect_uri_},
           {"allowed-hosts", "127.0.0.1"}}) {
    ASSERT_TRUE(daemon::apply_setting(config, "oauth2-connection.corp." + key, value).ok()) << key;
  }
  ASSERT_TRUE(daemon::finish_config(config).ok());
  start_broker(config);

  for (const std::string user : {"bob", "carol"}) {
    pb::BeginAuthorizationRequest request;
    request.set_login_hint(user);
    request.mutable_auth()->mutable_oauth2_managed()->set_connection("corp");
    request.mutable_auth()->mutable_oauth2_managed()->set_username(user);
    pb::CompleteAuthorizationResponse done;
    auto st = authorize(request, &done);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(done.token_key(), "managed:corp:" + user);
  }
  // Bots name the connection and the mailbox; no client id or secret travels.
  for (const std::string user : {"bob", "carol"}) {
    auto r = server_request("managed-" + user);
    r.mutable_spec()->mutable_auth()->mutable_oauth2_managed()->set_connection("corp");
    r.mutable_spec()->mutable_auth()->mutable_oauth2_managed()->set_username(user);
    pb::ConnectResponse response;
    auto st = client_->connect(r, &response);
    ASSERT_TRUE(st.ok()) << user << ": " << st.error_message();
    EXPECT_EQ(response.session().auth_mode(), "oauth2_managed");
  }
  // A user who never authorized gets told how to.
  auto r = server_request("managed-dave");
  r.mutable_spec()->mutable_auth()->mutable_oauth2_managed()->set_connection("corp");
  r.mutable_spec()->mutable_auth()->mutable_oauth2_managed()->set_username("dave");
  pb::ConnectResponse response;
  auto st = client_->connect(r, &response);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(st.error_message().find("mailbroker authorize --oauth2-connection corp --user dave"), std::string::npos)
      << st.error_message();
}

TEST_F(oauth2_delegated, ManagedSharedClientCredentialsKeepTheSecretInTheDaemon) {
  const std::string secret_file = socket_dir_ + "/cc-secret";
  std::ofstream(secret_file) << o().env("OAUTH2_CC_CLIENT_SECRET") << "\n";
  daemon::daemon_config config;
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"provider", "custom"},
           {"client-id", o().env("OAUTH2_CC_CLIENT_ID")},
           {"client-secret", "file:" + secret_file},
           {"token-url", o().env("OAUTH2_TOKEN_URL")},
           {"ca-file", o().env("OAUTH2_CA_FILE")},
           {"scopes", o().env("OAUTH2_SCOPE")},
           {"username", o().env("OAUTH2_CC_MAIL_USER")},
           {"allowed-hosts", "127.0.0.1"}}) {
    ASSERT_TRUE(daemon::apply_setting(config, "oauth2-connection.app." + key, value).ok()) << key;
  }
  ASSERT_TRUE(daemon::finish_config(config).ok());
  start_broker(config);
  o().reset_stats();
  for (const std::string session : {"shared-1", "shared-2"}) {
    auto r = server_request(session);
    r.mutable_spec()->mutable_auth()->mutable_oauth2_managed()->set_connection("app");
    pb::ConnectResponse response;
    auto st = client_->connect(r, &response);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(response.session().username(), o().env("OAUTH2_CC_MAIL_USER"));
  }
  EXPECT_EQ(o().token_requests(), 1);  // one shared token
  auto r = server_request("unknown-connection");
  r.mutable_spec()->mutable_auth()->mutable_oauth2_managed()->set_connection("nope");
  pb::ConnectResponse response;
  auto st = client_->connect(r, &response);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("nope"), std::string::npos);
}

TEST_F(oauth2_delegated, TokenEndpointDownMeansBackoffThenReadyWhenItReturns) {
  daemon::daemon_config config;
  config.registry.session.reconnect.initial = std::chrono::milliseconds(200);
  config.registry.session.reconnect.max = std::chrono::milliseconds(1000);
  start_broker(config);
  auto r = server_request("cc-endpoint-down");
  auto* cc = r.mutable_spec()->mutable_auth()->mutable_oauth2_client_credentials();
  cc->set_provider(pb::OAUTH2_PROVIDER_CUSTOM);
  cc->set_token_url(o().env("OAUTH2_TOKEN_URL"));
  cc->set_token_ca_file(o().env("OAUTH2_CA_FILE"));
  cc->set_client_id(o().env("OAUTH2_CC_CLIENT_ID"));
  cc->mutable_client_secret()->set_inline_value(o().env("OAUTH2_CC_CLIENT_SECRET"));
  cc->add_scopes(o().env("OAUTH2_SCOPE"));
  cc->set_username(o().env("OAUTH2_CC_MAIL_USER"));
  pb::ConnectResponse response;
  ASSERT_TRUE(client_->connect(r, &response).ok());

  o().stop_server();
  std::this_thread::sleep_for(std::chrono::seconds(shared_access_ttl_seconds));
  o().dovecot().kick(o().env("OAUTH2_CC_MAIL_USER"));
  ASSERT_TRUE(wait_for_status("cc-endpoint-down", [](const pb::SessionStatus& s) {
    return s.reconnect_count() >= 1 && s.state() != pb::SESSION_STATE_READY;
  }));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const auto st = status_of("cc-endpoint-down");
  EXPECT_NE(st.state(), pb::SESSION_STATE_FAILED) << "an unreachable token endpoint is not a permanent failure";
  EXPECT_NE(st.state(), pb::SESSION_STATE_READY);
  EXPECT_TRUE(st.token().has_last_refresh_error());

  o().restart_server();
  EXPECT_TRUE(wait_for_state("cc-endpoint-down", pb::SESSION_STATE_READY, std::chrono::seconds(20)));
}

TEST_F(oauth2_delegated, BadAuthorizationRequestsNameTheField) {
  start_broker();
  struct bad_case {
    std::string name;
    std::function<void(pb::OAuth2AuthorizationCode*)> edit;
    std::string field;
  };
  const std::vector<bad_case> cases = {
      {"yahoo", [](auto* ac) { ac->set_provider(pb::OAUTH2_PROVIDER_YAHOO); }, "provider"},
      {"msn", [](auto* ac) { ac->set_provider(pb::OAUTH2_PROVIDER_MSN); }, "provider"},
      {"remote redirect", [](auto* ac) { ac->set_redirect_uri("http://evil.example:9999/cb"); }, "redirect_uri"},
      {"https redirect", [](auto* ac) { ac->set_redirect_uri("https://localhost:9999/cb"); }, "redirect_uri"},
      {"no port", [](auto* ac) { ac->set_redirect_uri("http://localhost/callback"); }, "redirect_uri"},
      {"microsoft without tenant",
       [](auto* ac) {
         ac->set_provider(pb::OAUTH2_PROVIDER_MICROSOFT);
         ac->clear_token_url();
         ac->clear_authorize_url();
       },
       "tenant_id"},
      {"no client id", [](auto* ac) { ac->clear_client_id(); }, "client_id"},
  };
  for (const auto& c : cases) {
    pb::BeginAuthorizationRequest request;
    request.set_session("ac-bad");
    auto* ac = request.mutable_auth()->mutable_oauth2_authorization_code();
    fill_code_auth(ac, "bob");
    c.edit(ac);
    pb::BeginAuthorizationResponse response;
    grpc::ClientContext context;
    auto st = client_->stub().BeginAuthorization(&context, request, &response);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.name;
    EXPECT_NE(st.error_message().find(c.field), std::string::npos) << c.name << ": " << st.error_message();
  }
  // A forged or replayed redirect: unknown state.
  pb::CompleteAuthorizationRequest forged;
  forged.set_state("not-a-state");
  forged.set_code("x");
  pb::CompleteAuthorizationResponse out;
  grpc::ClientContext context;
  auto st = client_->stub().CompleteAuthorization(&context, forged, &out);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("state"), std::string::npos);
}

TEST_F(oauth2_delegated, VaultEntriesServeAsPasswordsAndNeverComeBack) {
  start_broker();
  client::vault_client vault(client::make_channel(server_->unix_target()));
  const std::string password = shared_dovecot().password("alice");
  pb::PutSecretResponse put;
  EXPECT_EQ(vault.put("alice-imap", password, {}, &put).error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << "a vault entry must name where it may go";
  ASSERT_TRUE(vault.put("alice-imap", password, {shared_dovecot().host()}, &put).ok());
  EXPECT_TRUE(put.created());
  pb::ListSecretsResponse list;
  ASSERT_TRUE(vault.list(&list).ok());
  ASSERT_EQ(list.entries_size(), 1);
  EXPECT_EQ(list.entries(0).name(), "alice-imap");
  EXPECT_EQ(list.DebugString().find(password), std::string::npos);

  auto r = imaps_request("vault-session", "alice");
  r.mutable_spec()->mutable_auth()->mutable_basic()->mutable_password()->set_vault("alice-imap");
  pb::ConnectResponse response;
  auto st = client_->connect(r, &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(response.session().state(), pb::SESSION_STATE_READY);

  ASSERT_TRUE(vault.remove("alice-imap").ok());
  EXPECT_EQ(vault.remove("alice-imap").error_code(), grpc::StatusCode::NOT_FOUND);
  auto missing = imaps_request("vault-missing", "alice");
  missing.mutable_spec()->mutable_auth()->mutable_basic()->mutable_password()->set_vault("alice-imap");
  st = client_->connect(missing, &response);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(st.error_message().find("spec.auth.basic.password.vault"), std::string::npos) << st.error_message();
  EXPECT_EQ(captured_logs().find(password), std::string::npos);

  // The store file never holds the password in clear.
  std::ifstream db(state_dir() + "/mailbroker.db", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(db)), std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes.find(password), std::string::npos);
}

TEST_F(oauth2_delegated, WrongVaultKeyStopsTheDaemonWithAClearError) {
  start_broker();
  server_->shutdown(std::chrono::seconds(5));
  server_.reset();
  client_.reset();
  // Another key where the daemon looks for its own.
  std::filesystem::permissions(state_dir() + "/vault.key", std::filesystem::perms::owner_all);
  std::ofstream(state_dir() + "/vault.key", std::ios::trunc) << std::string(64, 'a') << "\n";
  std::filesystem::permissions(state_dir() + "/vault.key",
                               std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  daemon::daemon_config config;
  config.socket_path = socket_dir_ + "/d.sock";
  config.state_dir = state_dir();
  daemon::broker_server server(config);
  auto e = server.start();
  EXPECT_EQ(e.code, errc::failed_precondition);
  EXPECT_NE(e.message.find("does not open"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("key id"), std::string::npos) << e.message;
  EXPECT_EQ(e.message.find(std::string(64, 'a')), std::string::npos);
}

}  // namespace
}  // namespace mailbroker::testing
