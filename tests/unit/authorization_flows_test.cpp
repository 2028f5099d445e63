#include "auth/authorization_flows.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "auth/form.hpp"
#include "auth/pkce.hpp"

namespace mailbroker::auth {
namespace {

using namespace std::chrono_literals;

token_request code_request(const std::string& key = "session:demo") {
  token_request r;
  r.grant = grant_type::refresh_token;
  r.token_url = "https://login.example.com/token";
  r.client_id = "app id/1";
  r.scopes = {"https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access"};
  r.refresh_token_key = key;
  return r;
}

authorization_start start() {
  authorization_start s;
  s.authorize_url = "https://login.example.com/authorize";
  s.redirect_uri = "http://localhost:9999/callback";
  return s;
}

std::map<std::string, std::string> query_of(const std::string& url, const std::string& prefix) {
  EXPECT_EQ(url.rfind(prefix, 0), 0u) << url;
  auto q = parse_query(url.substr(prefix.size()));
  EXPECT_TRUE(q.has_value()) << url;
  return q.value_or(std::map<std::string, std::string>{});
}

TEST(authorization_flows, BeginBuildsTheAuthorizationUrl) {
  authorization_flows flows;
  auto s = start();
  s.login_hint = "alice@contoso.com";
  s.extra_params = {{"access_type", "offline"}, {"prompt", "consent"}};
  const auto before = std::chrono::system_clock::now();
  const auto begun = flows.begin(code_request(), s);

  const auto q = query_of(begun.url, "https://login.example.com/authorize?");
  EXPECT_EQ(q.at("response_type"), "code");
  EXPECT_EQ(q.at("client_id"), "app id/1");
  EXPECT_EQ(q.at("redirect_uri"), "http://localhost:9999/callback");
  EXPECT_EQ(q.at("state"), begun.state);
  EXPECT_EQ(q.at("code_challenge_method"), "S256");
  EXPECT_EQ(q.at("scope"), "https://outlook.office.com/IMAP.AccessAsUser.All offline_access");
  EXPECT_EQ(q.at("login_hint"), "alice@contoso.com");
  EXPECT_EQ(q.at("access_type"), "offline");
  EXPECT_EQ(q.at("prompt"), "consent");
  EXPECT_EQ(q.size(), 10u);
  // Spaces as %20 (RFC 3986), never '+'.
  EXPECT_NE(begun.url.find("IMAP.AccessAsUser.All%20offline_access"), std::string::npos) << begun.url;
  EXPECT_EQ(begun.url.find('+'), std::string::npos) << begun.url;
  EXPECT_GE(begun.expires_at, before + 10min);
  EXPECT_LE(begun.expires_at, std::chrono::system_clock::now() + 10min);

  auto pending = flows.take(begun.state);
  ASSERT_TRUE(pending.ok()) << pending.err().message;
  // Only the challenge is in the URL; it is the S256 of the verifier kept here.
  EXPECT_TRUE(is_valid_pkce_verifier(pending->code_verifier));
  EXPECT_EQ(q.at("code_challenge"), pkce_challenge_s256(pending->code_verifier));
  EXPECT_EQ(begun.url.find(pending->code_verifier), std::string::npos);
}

TEST(authorization_flows, OptionalParametersAreLeftOut) {
  authorization_flows flows;
  auto request = code_request();
  request.scopes.clear();
  auto s = start();
  s.authorize_url = "https://accounts.example.com/o/auth?tenant=x";  // already has a query
  const auto begun = flows.begin(request, s);
  const auto q = query_of(begun.url, "https://accounts.example.com/o/auth?");
  EXPECT_EQ(q.at("tenant"), "x");
  EXPECT_EQ(q.count("scope"), 0u);
  EXPECT_EQ(q.count("login_hint"), 0u);
  EXPECT_EQ(q.at("response_type"), "code");
}

TEST(authorization_flows, TakeReturnsTheFlowOnce) {
  authorization_flows flows;
  const auto begun = flows.begin(code_request("managed:corp:alice"), start());
  EXPECT_EQ(flows.pending(), 1u);

  auto pending = flows.take(begun.state);
  ASSERT_TRUE(pending.ok()) << pending.err().message;
  EXPECT_EQ(pending->request.refresh_token_key, "managed:corp:alice");
  EXPECT_EQ(pending->request.grant, grant_type::refresh_token);
  EXPECT_EQ(pending->redirect_uri, "http://localhost:9999/callback");
  EXPECT_EQ(flows.pending(), 0u);

  auto again = flows.take(begun.state);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.err().code, errc::invalid_argument);
  EXPECT_NE(again.err().message.find("state"), std::string::npos) << again.err().message;
}

TEST(authorization_flows, UnknownOrEmptyStateIsInvalidArgument) {
  authorization_flows flows;
  const auto begun = flows.begin(code_request(), start());
  for (const std::string& state : {std::string(), std::string("forged"), begun.state + "x", begun.state.substr(1)}) {
    SCOPED_TRACE(state);
    auto r = flows.take(state);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.err().code, errc::invalid_argument);
  }
  EXPECT_EQ(flows.pending(), 1u);  // failed guesses do not consume the real flow
  EXPECT_TRUE(flows.take(begun.state).ok());
}

TEST(authorization_flows, ExpiredStateIsInvalidArgument) {
  authorization_flows flows(0s);
  const auto begun = flows.begin(code_request(), start());
  auto r = flows.take(begun.state);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::invalid_argument);
  EXPECT_EQ(flows.pending(), 0u);
}

TEST(authorization_flows, EveryFlowHasItsOwnStateAndVerifier) {
  authorization_flows flows;
  std::vector<begun_authorization> begun;
  for (int i = 0; i < 3; ++i) begun.push_back(flows.begin(code_request("session:" + std::to_string(i)), start()));
  std::set<std::string> states, verifiers;
  for (int i = 0; i < 3; ++i) {
    states.insert(begun[i].state);
    auto p = flows.take(begun[i].state);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->request.refresh_token_key, "session:" + std::to_string(i));
    verifiers.insert(p->code_verifier);
  }
  EXPECT_EQ(states.size(), 3u);
  EXPECT_EQ(verifiers.size(), 3u);
}

TEST(authorization_flows, AtMost64PendingAndTheOldestGoesFirst) {
  authorization_flows flows;
  std::vector<std::string> states;
  for (std::size_t i = 0; i < authorization_flows::max_pending + 1; ++i) {
    states.push_back(flows.begin(code_request(), start()).state);
  }
  EXPECT_EQ(authorization_flows::max_pending, 64u);
  EXPECT_EQ(flows.pending(), 64u);
  EXPECT_EQ(flows.take(states.front()).err().code, errc::invalid_argument);
  EXPECT_TRUE(flows.take(states[1]).ok());
  EXPECT_TRUE(flows.take(states.back()).ok());
}

}  // namespace
}  // namespace mailbroker::auth
