// Graph sessions through the daemon against the fake Microsoft Graph (issue 12): connecting
// app-only (client credentials) and delegated (/me, password grant) with tokens from the
// test OAuth2 server that the fake checks by introspection; attaching; an unknown mailbox,
// a wrong client secret and every bad Graph field; broken answers (an HTML 502 page,
// truncated JSON, a huge body) that fail one call of one session only; TestConnection.
// The Mailbox calls themselves are in graph_mailbox_test.cpp.
#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <thread>

#include "support/eventually.hpp"
#include "support/graph_session_fixture.hpp"

namespace mailbroker::testing {
namespace {

using namespace std::chrono_literals;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class graph_session : public graph_fixture {};

TEST_F(graph_session, AppOnlyConnectsReadyAndStatusShowsTheMailboxAndPool) {
  deliver("first");
  pb::ConnectResponse response;
  auto st = client_->connect(app_request("graph-app"), &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(response.created());
  EXPECT_EQ(response.session().state(), pb::SESSION_STATE_READY);

  const auto status = status_of("graph-app");
  EXPECT_EQ(status.state(), pb::SESSION_STATE_READY);
  EXPECT_EQ(status.server().protocol(), pb::PROTOCOL_GRAPH);
  EXPECT_EQ(status.server().host(), "127.0.0.1");
  EXPECT_EQ(status.server().port(), graph().port());
  EXPECT_TRUE(status.server().tls_verified());
  EXPECT_EQ(status.auth_mode(), "oauth2_client_credentials");
  EXPECT_EQ(status.username(), "alice@testlab.test") << "an app-only session's user is its mailbox";
  ASSERT_TRUE(status.has_http()) << status.DebugString();
  EXPECT_EQ(status.http().max_in_flight(), 4u) << "Exchange Online's limit per app and mailbox is the default";
  EXPECT_EQ(status.http().mailbox(), "/users/alice@testlab.test");
  EXPECT_LE(status.http().connections(), 4u);
  EXPECT_EQ(status.http().throttled(), 0u);
  EXPECT_EQ(status.http().last_retry_after_ms(), 0u);
  EXPECT_TRUE(status.has_token());
  EXPECT_GE(status.token().refresh_count(), 1u);

  // The fake saw the daemon's own token, checked at the OAuth2 server, on /users/alice.
  const auto counters = graph().counters();
  EXPECT_GE(counters.at("introspections"), 1);
  EXPECT_EQ(counters.at("unauthorized"), 0);
  const auto requests = graph().requests();
  ASSERT_FALSE(requests.empty()) << "the session made at least one call while connecting";
  for (const auto& r : requests) {
    EXPECT_EQ(path_of(r).rfind("/v1.0/users/alice@testlab.test/", 0), 0u) << r.dump();
    EXPECT_LT(r.at("status").get<int>(), 400) << r.dump();
  }

  const auto lease = response.lease_id();
  const auto page = list(lease);
  ASSERT_EQ(page.messages_size(), 1);
  EXPECT_EQ(page.messages(0).subject(), "first");
  EXPECT_TRUE(wait_for_status("graph-app", [](const pb::SessionStatus& s) { return s.http().requests() >= 2; }))
      << "Status's counters follow each call as it finishes";
}

TEST_F(graph_session, ASecondConnectWithTheSameSpecAttaches) {
  pb::ConnectResponse first, second;
  ASSERT_TRUE(client_->connect(app_request("graph-attach"), &first).ok());
  const auto introspections = graph().counters().at("introspections");
  auto st = client_->connect(app_request("graph-attach"), &second);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(first.created());
  EXPECT_FALSE(second.created()) << "the same spec attaches to the live session";
  EXPECT_NE(first.lease_id(), second.lease_id());
  EXPECT_EQ(status_of("graph-attach").lease_count(), 2u);
  EXPECT_EQ(status_of("graph-attach").counters().connects(), 1u);
  EXPECT_LE(graph().counters().at("introspections"), introspections + 1) << "no new login for an attach";

  // Another mailbox is another session: a different spec under the same name is refused.
  pb::ConnectResponse other;
  st = client_->connect(app_request("graph-attach", "bob@testlab.test"), &other);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << st.error_message();
  // The mailbox address is case-insensitive: ALICE@ is the same mailbox.
  st = client_->connect(app_request("graph-attach", "ALICE@testlab.test"), &other);
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_FALSE(other.created());
}

TEST_F(graph_session, AnUnknownMailboxFailsTheSessionWithNotFound) {
  pb::ConnectResponse response;
  auto st = client_->connect(app_request("graph-nobody", "nobody@testlab.test"), &response);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
  EXPECT_TRUE(contains(st.error_message(), "nobody@testlab.test")) << st.error_message();
  EXPECT_TRUE(contains(st.error_message(), "ErrorInvalidUser")) << "Graph's code: " << st.error_message();
  EXPECT_TRUE(wait_for_state("graph-nobody", pb::SESSION_STATE_FAILED));
  const auto status = status_of("graph-nobody");
  EXPECT_EQ(status.last_error().code(), "NOT_FOUND") << status.DebugString();
  EXPECT_TRUE(contains(status.last_error().message(), "nobody@testlab.test")) << status.DebugString();
  // FAILED is final: no retry loop against the server.
  const auto requests = graph().counters().at("requests");
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(graph().counters().at("requests"), requests);
}

TEST_F(graph_session, AWrongClientSecretIsUnauthenticatedAndNeverShown) {
  auto request = app_request("graph-wrong-secret");
  const std::string wrong = "wrong-" + shared_oauth2().env("OAUTH2_CC_CLIENT_SECRET");
  request.mutable_spec()->mutable_auth()->mutable_oauth2_client_credentials()->mutable_client_secret()->set_inline_value(
      wrong);
  pb::ConnectResponse response;
  auto st = client_->connect(request, &response);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
  EXPECT_TRUE(contains(st.error_message(), "invalid_client")) << st.error_message();
  EXPECT_EQ(status_of("graph-wrong-secret").state(), pb::SESSION_STATE_FAILED);
  EXPECT_EQ(graph().counters().at("requests"), 0) << "no token, no Graph request";

  // A good session next to it, then no secret anywhere.
  ASSERT_FALSE(connect(app_request("graph-good")).empty());
  pb::StatusResponse all;
  ASSERT_TRUE(client_->status("", &all).ok());
  const std::string everything = st.error_message() + all.DebugString() + captured_logs();
  EXPECT_FALSE(contains(everything, wrong));
  EXPECT_FALSE(contains(everything, shared_oauth2().env("OAUTH2_CC_CLIENT_SECRET")));
  EXPECT_FALSE(contains(everything, "Bearer ")) << "an Authorization header in a log or status";
}

TEST_F(graph_session, BadSpecsAreInvalidArgumentNamingTheField) {
  struct bad_case {
    std::string what;
    std::function<void(pb::SessionSpec&)> change;
    std::string field;  // must appear in the error message
  };
  const std::string http_url = "http://" + graph().base_url().substr(std::string("https://").size());
  const std::vector<bad_case> cases = {
      {"no graph leg", [](pb::SessionSpec& s) { s.clear_graph(); }, "spec.graph"},
      {"basic auth",
       [](pb::SessionSpec& s) {
         auto* basic = s.mutable_auth()->mutable_basic();
         basic->set_username("alice@testlab.test");
         basic->mutable_password()->set_inline_value("secret-password");
       },
       "spec.auth"},
      {"no auth", [](pb::SessionSpec& s) { s.clear_auth(); }, "spec.auth"},
      {"client credentials without mailbox", [](pb::SessionSpec& s) { s.mutable_graph()->clear_mailbox(); },
       "spec.graph.mailbox"},
      {"base_url with GLOBAL", [](pb::SessionSpec& s) { s.mutable_graph()->set_cloud(pb::GRAPH_CLOUD_GLOBAL); },
       "spec.graph.base_url"},
      {"CUSTOM without base_url", [](pb::SessionSpec& s) { s.mutable_graph()->clear_base_url(); },
       "spec.graph.base_url"},
      {"http:// without allow_plaintext", [&](pb::SessionSpec& s) { s.mutable_graph()->set_base_url(http_url); },
       "spec.graph.base_url"},
      {"base_url with a query", [&](pb::SessionSpec& s) { s.mutable_graph()->set_base_url(graph().base_url() + "?x=1"); },
       "spec.graph.base_url"},
      {"mailbox with a slash", [](pb::SessionSpec& s) { s.mutable_graph()->set_mailbox("alice/../bob"); },
       "spec.graph.mailbox"},
      {"mailbox with a space", [](pb::SessionSpec& s) { s.mutable_graph()->set_mailbox("alice @testlab.test"); },
       "spec.graph.mailbox"},
      {"mailbox too long", [](pb::SessionSpec& s) { s.mutable_graph()->set_mailbox(std::string(321, 'a')); },
       "spec.graph.mailbox"},
      {"timeout 5", [](pb::SessionSpec& s) { s.mutable_graph()->set_timeout_seconds(5); },
       "spec.graph.timeout_seconds"},
      {"timeout 121", [](pb::SessionSpec& s) { s.mutable_graph()->set_timeout_seconds(121); },
       "spec.graph.timeout_seconds"},
      {"17 requests at once", [](pb::SessionSpec& s) { s.mutable_graph()->set_max_concurrent_requests(17); },
       "spec.graph.max_concurrent_requests"},
      {"server.host set", [](pb::SessionSpec& s) { s.mutable_server()->set_host("127.0.0.1"); }, "spec.server"},
      {"an SMTP leg on Graph (it sends through Graph)",
       [](pb::SessionSpec& s) {
         s.mutable_smtp()->mutable_server()->set_host("127.0.0.1");
         s.mutable_smtp()->mutable_server()->set_port(465);
       },
       "spec.smtp"},
      {"an EWS leg on Graph",
       [&](pb::SessionSpec& s) { s.mutable_ews()->set_url("https://127.0.0.1:1/EWS/Exchange.asmx"); }, "spec.ews"},
      {"a graph leg on IMAP",
       [](pb::SessionSpec& s) {
         s.set_protocol(pb::PROTOCOL_IMAP);
         s.mutable_server()->set_host("127.0.0.1");
       },
       "spec.graph"},
  };
  for (const auto& c : cases) {
    auto request = app_request("graph-bad");
    c.change(*request.mutable_spec());
    pb::ConnectResponse response;
    auto st = client_->connect(request, &response);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.what << ": " << st.error_message();
    EXPECT_TRUE(contains(st.error_message(), c.field)) << c.what << ": " << st.error_message();
    EXPECT_FALSE(contains(st.error_message(), "secret-password")) << c.what;
  }
  EXPECT_EQ(graph().counters().at("requests"), 0) << "nothing reached the server";
  EXPECT_EQ(status_of("graph-bad").name(), "") << "no session was created";
}

TEST_F(graph_session, DelegatedMeWithThePasswordGrant) {
  deliver("for-bob", "INBOX", "bob");
  deliver("for-alice", "INBOX", "alice");
  pb::ConnectResponse response;
  auto st = client_->connect(delegated_request("graph-me", "bob"), &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(response.session().state(), pb::SESSION_STATE_READY);
  const auto status = status_of("graph-me");
  EXPECT_EQ(status.auth_mode(), "oauth2_password");
  EXPECT_EQ(status.username(), "bob");
  EXPECT_EQ(status.http().mailbox(), "/me");

  const auto page = list(response.lease_id());
  ASSERT_EQ(page.messages_size(), 1);
  EXPECT_EQ(page.messages(0).subject(), "for-bob") << "/me is the signed-in user's mailbox";
  const auto requests = graph().requests();
  ASSERT_FALSE(requests.empty());
  for (const auto& r : requests) {
    EXPECT_EQ(path_of(r).rfind("/v1.0/me/", 0), 0u) << r.dump();
    EXPECT_EQ(r.at("user"), "bob") << r.dump();
  }

  // bob is a delegate of the shared mailbox (the fake's default): his token opens it.
  deliver("for-the-team", "INBOX", "shared");
  pb::ConnectResponse shared;
  st = client_->connect(delegated_request("graph-bob-shared", "bob", "shared@testlab.test"), &shared);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(status_of("graph-bob-shared").http().mailbox(), "/users/shared@testlab.test");
  const auto team = list(shared.lease_id());
  ASSERT_EQ(team.messages_size(), 1);
  EXPECT_EQ(team.messages(0).subject(), "for-the-team");

  // ... but not carol's: Graph's 403 is PERMISSION_DENIED.
  pb::ConnectResponse denied;
  st = client_->connect(delegated_request("graph-bob-carol", "bob", "carol@testlab.test"), &denied);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();
  EXPECT_TRUE(contains(st.error_message(), "ErrorAccessDenied")) << st.error_message();
  const std::string everything = st.error_message() + status_of("graph-me").DebugString() + captured_logs();
  EXPECT_FALSE(contains(everything, idp_password("bob")));
}

// One broken answer fails the call that got it, with a message saying what was wrong; the
// session stays READY, its next call works, and another session never notices.
TEST_F(graph_session, BrokenAnswersFailOneCallOfOneSession) {
  deliver("alice-mail");
  deliver("bob-mail", "INBOX", "bob");
  const auto alice = connect(app_request("graph-faults"));
  const auto bob = connect(app_request("graph-faults-bob", "bob@testlab.test"));
  ASSERT_FALSE(alice.empty());
  ASSERT_FALSE(bob.empty());
  struct fault {
    std::string mode;
    std::vector<std::string> says;  // the message names one of these
  };
  const std::vector<fault> faults = {
      {"html502", {"502"}},
      {"truncated", {"truncated", "closed", "end of stream", "incomplete", "short read"}},
      {"huge", {"too large", "larger", "limit", "MiB", "bytes"}},
  };
  // Above the daemon's bound on a Graph answer (64 MiB, protocol/graph/json_text.hpp).
  constexpr long huge_bytes = 80L * 1024 * 1024;
  for (const auto& f : faults) {
    SCOPED_TRACE(f.mode);
    const auto injected = graph().counters().at("injected_failures");
    graph().fail(f.mode, 1, huge_bytes);
    grpc::Status st;
    pb::ListMessagesRequest request;
    request.set_folder("INBOX");
    request.set_limit(10 + static_cast<std::uint32_t>(f.mode.size()));  // never a cached or shared listing
    list(alice, request, &st);
    // A read that failed: UNAVAILABLE (safe to retry; mailbox.proto), or for an answer over
    // the daemon's bound RESOURCE_EXHAUSTED naming it.
    EXPECT_TRUE(st.error_code() == grpc::StatusCode::UNAVAILABLE ||
                (f.mode == "huge" && st.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED))
        << st.error_code() << ": " << st.error_message();
    bool named = false;
    for (const auto& word : f.says) named = named || contains(st.error_message(), word);
    EXPECT_TRUE(named) << "the message says what was wrong: " << st.error_message();
    EXPECT_FALSE(contains(st.error_message(), "<html")) << "server bytes are not echoed: " << st.error_message();
    EXPECT_FALSE(contains(st.error_message(), "aaaaaaaaaaaaaaaa")) << "server bytes are not echoed";
    EXPECT_EQ(graph().counters().at("injected_failures"), injected + 1) << "the fault was used by that call, once";

    EXPECT_TRUE(wait_for_state("graph-faults", pb::SESSION_STATE_READY));
    const auto again = list(alice, request, &st);
    EXPECT_TRUE(st.ok()) << "the next call works: " << st.error_message();
    EXPECT_EQ(subjects(again), std::vector<std::string>{"alice-mail"});
    EXPECT_EQ(status_of("graph-faults-bob").state(), pb::SESSION_STATE_READY);
    const auto other = list(bob, request, &st);
    EXPECT_TRUE(st.ok()) << "the other session: " << st.error_message();
    EXPECT_EQ(subjects(other), std::vector<std::string>{"bob-mail"});
  }
  EXPECT_EQ(graph().counters().at("injected_failures"), 3);
}

TEST_F(graph_session, TestConnectionReportsEveryStepAndLeavesNothingBehind) {
  pb::TestConnectionRequest request;
  request.set_session("graph-test-connection");
  *request.mutable_spec() = app_request("graph-test-connection").spec();
  pb::TestConnectionResponse response;
  auto st = client_->test_connection(request, &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(response.ok()) << response.DebugString();
  EXPECT_TRUE(response.failed_step().empty()) << response.DebugString();
  std::set<std::string> names;
  for (const auto& s : response.steps()) {
    names.insert(s.name());
    EXPECT_TRUE(s.ok()) << s.name() << ": " << s.error();
    EXPECT_GT(s.duration_us(), 0u) << s.name();
  }
  EXPECT_TRUE(names.count("token")) << response.DebugString();
  EXPECT_TRUE(names.count("first_call")) << response.DebugString();
  EXPECT_FALSE(contains(response.DebugString(), shared_oauth2().env("OAUTH2_CC_CLIENT_SECRET")));
  // The harmless call: the mailbox's Inbox, read.
  EXPECT_FALSE(recorded("GET", "/users/alice@testlab.test/mailFolders/inbox").empty()) << graph().requests().dump();
  EXPECT_TRUE(recorded("PATCH").empty() && recorded("POST").empty() && recorded("DELETE").empty());
  EXPECT_EQ(status_of("graph-test-connection").name(), "") << "no session was created";

  // An unknown mailbox fails the Graph "login" (the first authenticated GET of the
  // mailbox's Inbox), with a fix.
  request.mutable_spec()->mutable_graph()->set_mailbox("nobody@testlab.test");
  st = client_->test_connection(request, &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_FALSE(response.ok());
  EXPECT_EQ(response.failed_step(), "auth") << response.DebugString();
  EXPECT_FALSE(response.fix().empty());
  ASSERT_GT(response.steps_size(), 0);
  EXPECT_TRUE(contains(response.steps(response.steps_size() - 1).error(), "NOT_FOUND")) << response.DebugString();
}

}  // namespace
}  // namespace mailbroker::testing
