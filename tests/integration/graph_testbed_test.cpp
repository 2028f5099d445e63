// The Graph test support itself (tests/support/graph_testbed.*, graph_session_fixture.hpp)
// against the fake Graph, without the daemon: deliveries land where the tests say, folder
// paths resolve, the control calls do what the Graph tests rely on, and a token from the
// test OAuth2 server is accepted by introspection (so the daemon's own tokens will be).
#include <gtest/gtest.h>

#include "support/graph_session_fixture.hpp"

namespace mailbroker::testing {
namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class graph_testbed_selftest : public graph_fixture {};

TEST_F(graph_testbed_selftest, DeliveriesLandInTheNamedFoldersAndReadBackByteForByte) {
  const std::string bytes = message("selftest-one");
  const auto id = deliver_bytes(bytes);
  const auto sub = deliver("selftest-sub", "INBOX/Sub");
  const auto deeper = deliver("selftest-deeper", "inbox/Sub/Deeper");
  const auto archived = deliver("selftest-archive", "Archive");
  const auto own = deliver("selftest-own", "Projects/2026", "bob");

  EXPECT_EQ(find_item("alice", id).at("folder_path"), "INBOX");
  EXPECT_EQ(find_item("alice", sub).at("folder_path"), "INBOX/Sub");
  EXPECT_EQ(find_item("alice", deeper).at("folder_path"), "INBOX/Sub/Deeper");
  EXPECT_EQ(find_item("alice", archived).at("folder_path"), "Archive");
  EXPECT_EQ(find_item("bob", own).at("folder_path"), "Projects/2026");
  EXPECT_TRUE(find_item("alice", own).is_null()) << "bob's message is not alice's";
  EXPECT_EQ(items_in("alice", "INBOX/Sub").size(), 1u) << "INBOX/Sub was made once, not again for Deeper";
  EXPECT_FALSE(find_item("alice", id).at("isRead").get<bool>());

  const auto token = graph().mint_app_token();
  const auto raw = graph().graph_get(token, "/users/alice@testlab.test/messages/" + id + "/$value");
  EXPECT_EQ(raw, bytes);
  const auto listed = nlohmann::json::parse(graph().graph_get(
      token, "/users/alice@testlab.test/mailFolders/inbox/messages?$select=subject,receivedDateTime"));
  ASSERT_EQ(listed.at("value").size(), 1u);
  EXPECT_EQ(listed.at("value")[0].at("subject"), "selftest-one");
  EXPECT_EQ(graph().counters().at("delivered"), 5);
  const auto requests = graph().requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].at("method"), "GET");
  EXPECT_TRUE(contains(requests[0].at("path").get<std::string>(), "/$value"));

  graph().reset();
  EXPECT_TRUE(find_item("alice", id).is_null()) << "reset empties the mailboxes";
  EXPECT_EQ(graph().counters().at("delivered"), 0);
  EXPECT_TRUE(graph().requests().empty());
}

TEST_F(graph_testbed_selftest, FaultsDelayAndLimitsAreAppliedOnce) {
  deliver("selftest-fault");
  const auto token = graph().mint_app_token();
  const std::string inbox = "/users/alice@testlab.test/mailFolders/inbox/messages?$select=subject";
  graph().fail("html502");
  EXPECT_THROW(graph().graph_get(token, inbox), std::runtime_error);
  EXPECT_NO_THROW(graph().graph_get(token, inbox)) << "one failure, then normal answers";
  EXPECT_EQ(graph().counters().at("injected_failures"), 1);

  graph().set_delay(200);
  const auto t0 = std::chrono::steady_clock::now();
  graph().graph_get(token, inbox);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(200));
  EXPECT_EQ(graph().max_in_flight("alice"), 1);
  graph().set_limits(2, 3);
  EXPECT_EQ(graph().counters_json().at("settings").at("concurrency"), 2);
  EXPECT_EQ(graph().counters_json().at("settings").at("retry_after"), 3);
  graph().reset();
  EXPECT_EQ(graph().counters_json().at("settings").at("concurrency"), graph().concurrency());
  EXPECT_EQ(graph().counters_json().at("settings").at("delay_ms"), 0);

  // A delegated token opens its own mailbox, not carol's.
  const auto bob = graph().mint_token("bob");
  EXPECT_NO_THROW(graph().graph_get(bob, "/me/mailFolders/inbox"));
  EXPECT_THROW(graph().graph_get(bob, "/users/carol@testlab.test/mailFolders/inbox"), std::runtime_error);
}

TEST_F(graph_testbed_selftest, TokensOfTheOAuth2ServerAreAcceptedByIntrospection) {
  auto& o = shared_oauth2();
  EXPECT_EQ(graph().env("GRAPH_OAUTH2_INTROSPECTION"), "yes");
  const auto answer = nlohmann::json::parse(run_command(
      "curl -fsS --max-time 30 --cacert '" + o.env("OAUTH2_CA_FILE") + "' -u '" + o.env("OAUTH2_CC_CLIENT_ID") + ":" +
      o.env("OAUTH2_CC_CLIENT_SECRET") + "' -d grant_type=client_credentials -d scope=" + o.env("OAUTH2_SCOPE") +
      " '" + o.env("OAUTH2_TOKEN_URL") + "'"));
  const auto token = answer.at("access_token").get<std::string>();
  deliver("selftest-introspected");
  const auto listed = nlohmann::json::parse(
      graph().graph_get(token, "/users/alice@testlab.test/mailFolders/inbox/messages?$select=subject"));
  ASSERT_EQ(listed.at("value").size(), 1u);
  EXPECT_EQ(listed.at("value")[0].at("subject"), "selftest-introspected");
  EXPECT_GE(graph().counters().at("introspections"), 1);
  // App-only: no /me.
  EXPECT_THROW(graph().graph_get(token, "/me/mailFolders/inbox"), std::runtime_error);
  EXPECT_THROW(graph().graph_get("not-a-token", "/users/alice@testlab.test/mailFolders/inbox"), std::runtime_error);
  EXPECT_GE(graph().counters().at("unauthorized"), 1);
}

}  // namespace
}  // namespace mailbroker::testing
