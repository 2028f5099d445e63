// EWS sessions configured by address alone (spec.ews.autodiscover_email) through the
// in-process daemon against the fake EWS server: Autodiscover at connect time, the found
// URL in Status and kept across reconnects, redirectAddr, a redirect loop failing that
// session alone, and daemon-side secrets checked against every host at run time.
//
// The fake answers Autodiscover with https://exch01.testlab.test:PORT/EWS/Exchange.asmx
// (MB_EWS_PUBLIC_HOST); the daemon's test hook ews-autodiscover-connect-to sends
// testlab.test:443, autodiscover.testlab.test:443 and exch01.testlab.test:PORT to the
// fake's loopback port, while TLS still checks those names against its certificate.
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "client/vault_client.hpp"
#include "support/broker_fixture.hpp"
#include "support/ews_testbed.hpp"
#include "support/trust_support.hpp"

namespace mailbroker::testing {
namespace {

using namespace std::chrono_literals;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::uint16_t port_of(const std::string& url) {  // "https://127.0.0.1:PORT/..."
  const auto colon = url.find(':', 8);
  return static_cast<std::uint16_t>(std::stoi(url.substr(colon + 1)));
}

ews_testbed& discovering_ews() {
  static ews_testbed instance("MB_EWS_PUBLIC_HOST=exch01.testlab.test ");
  return instance;
}

class ews_autodiscover_session : public broker_fixture {
 protected:
  void SetUp() override {
    broker_fixture::SetUp();
    ews().reset();
    ews().set_autodiscover("normal");
    port_ = port_of(ews().ews_url());
  }

  ews_testbed& ews() { return discovering_ews(); }
  std::string found_url() const {
    return "https://exch01.testlab.test:" + std::to_string(port_) + "/EWS/Exchange.asmx";
  }

  // The daemon config with the test hook; `testlab_to` is where testlab.test:443 goes
  // (the fake unless a test puts a trap there).
  daemon::daemon_config config_for(std::uint16_t testlab_to = 0) const {
    const std::string fake = "127.0.0.1:" + std::to_string(port_);
    daemon::daemon_config config;
    auto e = daemon::apply_setting(config, "ews-autodiscover-connect-to",
                                   "testlab.test:443=127.0.0.1:" + std::to_string(testlab_to ? testlab_to : port_) +
                                       ",autodiscover.testlab.test:443=" + fake + ",exch01.testlab.test:" +
                                       std::to_string(port_) + "=" + fake);
    EXPECT_TRUE(e.ok()) << e.message;
    return config;
  }

  pb::ConnectRequest request(const std::string& session, const std::string& user = "alice") {
    pb::ConnectRequest r;
    r.set_session(session);
    r.set_client_name("autodiscover-test");
    auto* spec = r.mutable_spec();
    spec->set_protocol(pb::PROTOCOL_EWS);
    spec->mutable_server()->mutable_tls()->set_ca_file(ews().ca_file());
    auto* leg = spec->mutable_ews();
    leg->set_autodiscover_email(ews().address(user));
    leg->set_domain(ews().domain());
    leg->set_auth_scheme(pb::EWS_AUTH_SCHEME_NTLM);
    auto* basic = spec->mutable_auth()->mutable_basic();
    basic->set_username(user);
    basic->mutable_password()->set_inline_value(ews().password(user));
    return r;
  }

  grpc::Status connect(const pb::ConnectRequest& r, pb::ConnectResponse* response) {
    return client_->connect(r, response);
  }

  static bool has_capability(const pb::SessionStatus& s, const std::string& cap) {
    for (const auto& c : s.server().capabilities()) {
      if (c == cap) return true;
    }
    return false;
  }

  // The fake's recorded requests of one kind: "Autodiscover" or an EWS operation; "" = EWS
  // (any request to /EWS/Exchange.asmx).
  std::vector<nlohmann::json> recorded(const std::string& kind) {
    std::vector<nlohmann::json> out;
    for (const auto& r : nlohmann::json::parse(ews().requests())) {
      const bool is_autodiscover = r.value("operation", nlohmann::json()) == "Autodiscover";
      const bool is_ews = r.at("path").get<std::string>().rfind("/EWS/", 0) == 0;
      if ((kind == "Autodiscover" && is_autodiscover) || (kind.empty() && is_ews)) out.push_back(r);
    }
    return out;
  }

  std::uint16_t port_ = 0;
};

TEST_F(ews_autodiscover_session, AnAddressAloneReachesReadyShowsTheUrlAndKeepsItAcrossReconnects) {
  start_broker(config_for());
  pb::ConnectResponse response;
  auto st = connect(request("ad-alice"), &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  const auto& status = response.session();
  EXPECT_EQ(status.state(), pb::SESSION_STATE_READY);
  EXPECT_TRUE(has_capability(status, "EwsUrl=" + found_url())) << status.DebugString();
  EXPECT_TRUE(status.server().host().empty()) << "the spec's host stays empty; the URL is in the capabilities";
  const auto discoveries = recorded("Autodiscover");
  ASSERT_EQ(discoveries.size(), 2u) << "NTLM to the first candidate: the negotiate (401 + challenge), then the "
                                       "authenticated request answered with the EWS URL";
  EXPECT_EQ(discoveries.back().value("status", 0), 200);
  EXPECT_EQ(discoveries.back().value("user", std::string()), "alice");
  ASSERT_FALSE(recorded("").empty()) << "the probe (GetFolder) went to the EWS URL found";

  // A Mailbox call works on it.
  pb::ListFoldersRequest folders;
  folders.set_lease_id(response.lease_id());
  pb::ListFoldersResponse listed;
  grpc::ClientContext context;
  auto mailbox = pb::Mailbox::NewStub(client::make_channel(server_->unix_target()));
  ASSERT_TRUE(mailbox->ListFolders(&context, folders, &listed).ok());
  EXPECT_GT(listed.folders_size(), 0);

  // The connection drops: the session reconnects to the URL it found, without asking
  // Autodiscover again.
  ews().inject("drop");
  pb::ListFoldersResponse ignored;
  grpc::ClientContext dropped;
  (void)mailbox->ListFolders(&dropped, folders, &ignored);
  ASSERT_TRUE(wait_for_status(
      "ad-alice",
      [](const pb::SessionStatus& s) { return s.state() == pb::SESSION_STATE_READY && s.counters().connects() >= 2; },
      30s));
  EXPECT_EQ(recorded("Autodiscover").size(), discoveries.size()) << "the URL found was remembered";
  const auto again = status_of("ad-alice");
  EXPECT_TRUE(has_capability(again, "EwsUrl=" + found_url())) << again.DebugString();
  EXPECT_TRUE(contains(again.server().greeting(), found_url())) << again.server().greeting();
}

TEST_F(ews_autodiscover_session, TestConnectionAsksForTheUrlInstead) {
  start_broker(config_for());
  pb::TestConnectionRequest test;
  test.set_session("ad-test");
  *test.mutable_spec() = request("ad-test").spec();
  pb::TestConnectionResponse answer;
  auto st = client_->test_connection(test, &answer);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNIMPLEMENTED) << st.error_message();
  EXPECT_TRUE(contains(st.error_message(), "spec.ews.url")) << st.error_message();
  EXPECT_EQ(nlohmann::json::parse(ews().requests()).size(), 0u) << "nothing was sent";
}

TEST_F(ews_autodiscover_session, RedirectAddrIsFollowed) {
  start_broker(config_for());
  ews().set_autodiscover("redirect_addr", ews().address("bob"));  // alice is bob's delegate
  pb::ConnectResponse response;
  auto st = connect(request("ad-redirect"), &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(has_capability(response.session(), "EwsUrl=" + found_url())) << response.session().DebugString();
  bool asked_for_bob = false;
  for (const auto& r : recorded("Autodiscover")) {
    if (contains(r.value("body", std::string()), "<EMailAddress>bob@testlab.test</EMailAddress>")) asked_for_bob = true;
  }
  EXPECT_TRUE(asked_for_bob) << "the second request asks for the redirectAddr address";
}

TEST_F(ews_autodiscover_session, ARedirectLoopFailsThatSessionAloneListingWhatWasTried) {
  start_broker(config_for());
  // A session by URL on the same fake, READY before the loop starts.
  auto by_url = request("ad-by-url");
  by_url.mutable_spec()->mutable_ews()->clear_autodiscover_email();
  by_url.mutable_spec()->mutable_ews()->set_url(ews().ews_url());
  pb::ConnectResponse url_response;
  ASSERT_TRUE(connect(by_url, &url_response).ok());

  ews().set_autodiscover("loop");
  pb::ConnectResponse response;
  auto st = connect(request("ad-loop"), &response);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << st.error_message();
  EXPECT_TRUE(contains(st.error_message(), "Autodiscover for alice@testlab.test failed")) << st.error_message();
  EXPECT_TRUE(contains(st.error_message(), "redirect loop")) << st.error_message();
  EXPECT_TRUE(contains(st.error_message(), "1) https://testlab.test/autodiscover/autodiscover.xml"))
      << st.error_message();
  EXPECT_TRUE(contains(st.error_message(), "https://autodiscover.testlab.test/autodiscover/autodiscover.xml"))
      << st.error_message();
  EXPECT_FALSE(contains(st.error_message(), ews().password("alice")));
  const auto failed = status_of("ad-loop");
  EXPECT_EQ(failed.state(), pb::SESSION_STATE_FAILED);
  EXPECT_TRUE(contains(failed.last_error().message(), "redirect loop")) << failed.DebugString();

  const auto other = status_of("ad-by-url");
  EXPECT_EQ(other.state(), pb::SESSION_STATE_READY);
  pb::ListFoldersRequest folders;
  folders.set_lease_id(url_response.lease_id());
  pb::ListFoldersResponse listed;
  grpc::ClientContext context;
  auto mailbox = pb::Mailbox::NewStub(client::make_channel(server_->unix_target()));
  EXPECT_TRUE(mailbox->ListFolders(&context, folders, &listed).ok()) << "the other session still serves";
}

TEST_F(ews_autodiscover_session, ABoundSecretGoesOnlyToItsHostsCheckedAsTheSessionRuns) {
  counting_listener trap;  // stands in for https://testlab.test
  const std::string password = ews().password("alice");
  ASSERT_EQ(::setenv("MB_AD_PW", password.c_str(), 1), 0);
  auto config = config_for(trap.port());
  // env:MB_AD_PW may go to Autodiscover's second candidate and the EWS host, not to testlab.test.
  config.trust.secret_hosts.push_back("env:MB_AD_PW autodiscover.testlab.test:443,exch01.testlab.test");
  start_broker(config);
  client::vault_client vault(client::make_channel(server_->unix_target()));
  pb::PutSecretResponse put;
  // Bound to the Autodiscover hosts only: Connect accepts it, the EWS host is refused later.
  ASSERT_TRUE(vault.put("ad-alice", password, {"testlab.test:443", "autodiscover.testlab.test:443"}, &put).ok());
  // Bound to the EWS host only: no Autodiscover host may have it, refused at Connect.
  ASSERT_TRUE(vault.put("ad-ews-only", password, {"exch01.testlab.test"}, &put).ok());

  // 1. The env secret: testlab.test is skipped (nothing connects to the trap), the second
  //    candidate and the EWS host are allowed.
  auto env_request = request("ad-env");
  env_request.mutable_spec()->mutable_auth()->mutable_basic()->mutable_password()->set_env("MB_AD_PW");
  pb::ConnectResponse response;
  auto st = connect(env_request, &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(has_capability(response.session(), "EwsUrl=" + found_url()));
  EXPECT_EQ(trap.accepted(), 0) << "the host the secret is not bound to got no connection at all";

  // 2. The vault secret bound to the Autodiscover hosts: discovery runs (on the fake),
  //    then the EWS host it found is refused before anything is sent there.
  ews().reset();
  auto vault_request = request("ad-vault");
  vault_request.mutable_spec()->mutable_auth()->mutable_basic()->mutable_password()->set_vault("ad-alice");
  st = connect(vault_request, &response);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();
  EXPECT_TRUE(contains(st.error_message(), "vault:ad-alice")) << st.error_message();
  EXPECT_TRUE(contains(st.error_message(), "exch01.testlab.test:" + std::to_string(port_))) << st.error_message();
  EXPECT_FALSE(contains(st.error_message(), password));
  EXPECT_EQ(status_of("ad-vault").state(), pb::SESSION_STATE_FAILED);
  EXPECT_TRUE(recorded("").empty()) << "no EWS request reached the refused host";
  EXPECT_FALSE(recorded("Autodiscover").empty());

  // 3. Bound to the EWS host only: refused at Connect, nothing sent anywhere.
  ews().reset();
  const int trapped = trap.accepted();
  auto ews_only = request("ad-ews-only");
  ews_only.mutable_spec()->mutable_auth()->mutable_basic()->mutable_password()->set_vault("ad-ews-only");
  st = connect(ews_only, &response);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();
  EXPECT_TRUE(contains(st.error_message(), "vault:ad-ews-only")) << st.error_message();
  EXPECT_TRUE(contains(st.error_message(), "Autodiscover for alice@testlab.test sends it first to")) << st.error_message();
  EXPECT_EQ(nlohmann::json::parse(ews().requests()).size(), 0u);
  EXPECT_EQ(trap.accepted(), trapped);

  // 4. An inline password is the caller's own: only vet_ews_url() applies (READY).
  st = connect(request("ad-inline"), &response);
  EXPECT_TRUE(st.ok()) << st.error_message();
  ::unsetenv("MB_AD_PW");
}

}  // namespace
}  // namespace mailbroker::testing
