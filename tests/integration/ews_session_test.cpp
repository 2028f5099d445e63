// EWS sessions through the daemon against the fake EWS server (issue 11): connecting (NTLM
// bound to one persistent connection, Basic, wrong passwords), the connection pool, shared mailboxes and
// impersonation, ErrorServerBusy back-off, every bad EWS field, and a stalling server.
// The Mailbox calls themselves are in ews_mailbox_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <future>
#include <random>
#include <set>
#include <thread>

#include "support/eventually.hpp"
#include "support/ews_session_fixture.hpp"

namespace mailbroker::testing {
namespace {

using namespace std::chrono_literals;

class ews_session : public ews_fixture {};

bool has_capability(const pb::SessionStatus& s, const std::string& prefix) {
  return std::any_of(s.server().capabilities().begin(), s.server().capabilities().end(),
                     [&](const std::string& c) { return c.rfind(prefix, 0) == 0; });
}

std::string capabilities_of(const pb::SessionStatus& s) {
  std::string out;
  for (const auto& c : s.server().capabilities()) out += c + "; ";
  return out;
}

TEST_F(ews_session, EwsNtlmConnectsOnePersistentConnectionOneHandshake) {
  deliver("first");
  const auto lease = connect(ews_request("ews-ntlm"));
  ASSERT_FALSE(lease.empty());
  const auto status = status_of("ews-ntlm");
  EXPECT_EQ(status.state(), pb::SESSION_STATE_READY);
  EXPECT_EQ(status.server().protocol(), pb::PROTOCOL_EWS);
  EXPECT_TRUE(has_capability(status, "Auth=NTLM")) << capabilities_of(status);
  EXPECT_TRUE(has_capability(status, "ServerVersionInfo=")) << capabilities_of(status);
  EXPECT_TRUE(has_capability(status, "RequestServerVersion=Exchange2013_SP1")) << capabilities_of(status);

  for (int i = 0; i < 10; ++i) {
    const auto page = list(lease);
    ASSERT_EQ(page.messages_size(), 1);
    EXPECT_EQ(page.messages(0).subject(), "first");
  }
  const auto counters = ews().counters();
  EXPECT_EQ(counters.at("tcp_connections"), 1) << "one persistent connection for the login and 10 calls";
  EXPECT_EQ(counters.at("ntlm_handshakes"), 1) << "NTLM is bound to the connection: one handshake";
  EXPECT_EQ(counters.at("auth_failures"), 0);
  EXPECT_GE(counters.at("soap_requests"), 11);

  // Every SOAP request went over the same TCP connection, authenticated by it.
  const auto requests = nlohmann::json::parse(ews().requests());
  std::set<long> connections;
  int by_connection = 0;
  for (const auto& r : requests) {
    connections.insert(r.at("conn").get<long>());
    if (r.value("auth", nlohmann::json()).is_string() && r.at("auth") == "NTLM-connection") ++by_connection;
  }
  EXPECT_EQ(connections.size(), 1u);
  EXPECT_GE(by_connection, 10) << "later requests carry no Authorization header";
  EXPECT_TRUE(wait_for_status("ews-ntlm", [](const pb::SessionStatus& s) { return s.counters().commands_sent() >= 11; }))
      << "Status's counters follow each call as it finishes";
}

TEST_F(ews_session, EwsConcurrentReadsShareAPoolOfAtMostFourConnectionsEachWithItsOwnHandshake) {
  for (int i = 0; i < 3; ++i) deliver("pooled-" + std::to_string(i));
  const auto request = ews_request("ews-pool");
  std::vector<std::string> leases;
  for (int i = 0; i < 8; ++i) leases.push_back(connect(request));
  for (const auto& l : leases) ASSERT_FALSE(l.empty());
  ASSERT_EQ(ews().counters().at("tcp_connections"), 1) << "login: one connection";

  // Every request waits 300 ms at the server: eight bots listing at once overlap only if
  // the session sends their requests side by side, over connections of their own. Each bot
  // asks for a different page size, so no two calls are identical (identical lists would
  // share one FindItem and never need a second connection).
  ews().set_delay(300);
  std::vector<std::future<int>> bots;
  for (std::size_t b = 0; b < leases.size(); ++b) {
    bots.push_back(std::async(std::launch::async, [&, b] {
      int seen = 0;
      for (int round = 0; round < 2; ++round) {
        pb::ListMessagesRequest page_request;
        page_request.set_folder("INBOX");
        page_request.set_limit(static_cast<std::uint32_t>(10 + 2 * b + round));
        grpc::Status st;
        const auto page = list(leases[b], page_request, &st);
        EXPECT_TRUE(st.ok()) << st.error_message();
        seen += page.messages_size();
      }
      return seen;
    }));
  }
  for (auto& b : bots) EXPECT_EQ(b.get(), 6) << "each of 2 lists sees the 3 messages";
  ews().set_delay(0);

  const auto counters = ews().counters();
  EXPECT_GE(counters.at("tcp_connections"), 2) << "reads of different bots went side by side";
  EXPECT_LE(counters.at("tcp_connections"), 4) << "ews-connections-per-session is 4";
  EXPECT_EQ(counters.at("ntlm_handshakes"), counters.at("tcp_connections"))
      << "NTLM is bound to its connection: each pooled connection authenticated itself, once";
  EXPECT_EQ(counters.at("auth_failures"), 0);
  const auto after_burst = counters.at("tcp_connections");

  // Alone again, calls reuse the pool's idle connections.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(list(leases[0]).messages_size(), 3);
  EXPECT_EQ(ews().counters().at("tcp_connections"), after_burst);
  EXPECT_EQ(status_of("ews-pool").state(), pb::SESSION_STATE_READY);
  EXPECT_EQ(status_of("ews-pool").counters().connects(), 1u) << "no reconnect: the pool grew inside one login";
}

TEST_F(ews_session, EwsBasicAuthWorksAndWrongPasswordsStaySecret) {
  auto basic = ews_request("ews-basic");
  basic.mutable_spec()->mutable_ews()->set_auth_scheme(pb::EWS_AUTH_SCHEME_BASIC);
  const auto lease = connect(basic);
  ASSERT_FALSE(lease.empty());
  EXPECT_TRUE(has_capability(status_of("ews-basic"), "Auth=Basic")) << capabilities_of(status_of("ews-basic"));
  list(lease);
  const auto requests = nlohmann::json::parse(ews().requests());
  int basic_requests = 0;
  for (const auto& r : requests) {
    if (r.value("auth", nlohmann::json()).is_string() && r.at("auth") == "Basic") ++basic_requests;
  }
  EXPECT_GE(basic_requests, 2) << "Basic credentials on every request";
  EXPECT_EQ(ews().counters().at("ntlm_handshakes"), 0);

  const std::string wrong = "Wr0ng-" + std::to_string(std::random_device{}()) + "-secret";
  for (const auto scheme : {pb::EWS_AUTH_SCHEME_BASIC, pb::EWS_AUTH_SCHEME_NTLM}) {
    const std::string name = scheme == pb::EWS_AUTH_SCHEME_BASIC ? "ews-wrong-basic" : "ews-wrong-ntlm";
    auto bad = ews_request(name);
    bad.mutable_spec()->mutable_ews()->set_auth_scheme(scheme);
    bad.mutable_spec()->mutable_auth()->mutable_basic()->mutable_password()->set_inline_value(wrong);
    pb::ConnectResponse response;
    const auto failures_before = ews().counters().at("auth_failures");
    auto st = client_->connect(bad, &response);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << name << ": " << st.error_message();
    EXPECT_EQ(st.error_message().find(wrong), std::string::npos) << st.error_message();
    EXPECT_GT(ews().counters().at("auth_failures"), failures_before) << name << ": the fake refused it";
    const auto status = status_of(name);
    EXPECT_EQ(status.last_error().message().find(wrong), std::string::npos);
  }
  const auto logs = captured_logs();
  EXPECT_EQ(logs.find(wrong), std::string::npos) << "a wrong password in the daemon's logs";
  EXPECT_EQ(logs.find(ews().password("alice")), std::string::npos) << "alice's password in the daemon's logs";
}

TEST_F(ews_session, EwsServerBusyIsWaitedOutOrReportedWithoutHarmingOthers) {
  deliver("busy-test");
  const auto lease = connect(ews_request("ews-busy"));
  const auto other = connect(ews_request("ews-other", "bob"));
  const auto imap = connect(imaps_request("imap-busy"));
  ASSERT_FALSE(lease.empty());
  ASSERT_FALSE(other.empty());
  ASSERT_FALSE(imap.empty());

  ews().set_busy(1, 200);
  auto t0 = std::chrono::steady_clock::now();
  grpc::Status st;
  auto page = list(lease, "INBOX", &st);
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(page.messages_size(), 1);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 200ms) << "the back-off the server asked for was not honoured";
  EXPECT_EQ(ews().counters().at("busy_sent"), 1);

  ews().set_busy(10, 50);
  t0 = std::chrono::steady_clock::now();
  list(lease, "INBOX", &st);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  EXPECT_NE(st.error_message().find("ErrorServerBusy"), std::string::npos) << st.error_message();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  const auto busy_sent = ews().counters().at("busy_sent");
  EXPECT_GE(busy_sent, 3) << "retried at least once after backing off";
  EXPECT_LT(busy_sent, 11) << "gave up while the server stayed busy";
  // The IMAP session never noticed.
  list(imap, "INBOX", &st);
  EXPECT_TRUE(st.ok()) << st.error_message();

  ews().set_busy(0, 0);
  // Neither EWS session failed for good: both answer again.
  EXPECT_TRUE(wait_for_state("ews-busy", pb::SESSION_STATE_READY));
  page = list(lease, "INBOX", &st);
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(page.messages_size(), 1);
  EXPECT_TRUE(wait_for_state("ews-other", pb::SESSION_STATE_READY));
  list(other, "INBOX", &st);
  EXPECT_TRUE(st.ok()) << st.error_message();
}

TEST_F(ews_session, EwsSharedMailboxAndImpersonation) {
  deliver("for-alice", "INBOX", "alice");
  deliver("for-bob", "INBOX", "bob");
  deliver("for-carol", "INBOX", "carol");

  // alice opens bob's mailbox (bob delegated it to her: the fake's default).
  auto shared = ews_request("ews-shared");
  shared.mutable_spec()->mutable_ews()->set_mailbox(ews().address("bob"));
  const auto lease = connect(shared);
  ASSERT_FALSE(lease.empty());
  auto page = list(lease);
  ASSERT_EQ(page.messages_size(), 1);
  EXPECT_EQ(page.messages(0).subject(), "for-bob");
  std::string raw;
  ASSERT_TRUE(fetch(lease, page.messages(0).ref(), &raw).ok());
  EXPECT_NE(raw.find("Subject: for-bob"), std::string::npos);
  int anchored = 0;
  for (const auto& r : nlohmann::json::parse(ews().requests())) {
    if (r.value("user", nlohmann::json()).is_string() && r.at("user") == "alice" &&
        r.value("anchor_mailbox", nlohmann::json()) == ews().address("bob")) {
      ++anchored;
    }
  }
  EXPECT_GE(anchored, 2) << "X-AnchorMailbox names the shared mailbox";

  // carol gave alice nothing.
  auto denied = ews_request("ews-carol");
  denied.mutable_spec()->mutable_ews()->set_mailbox(ews().address("carol"));
  pb::ConnectResponse response;
  auto st = client_->connect(denied, &response);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();

  // svc may impersonate anyone.
  auto impersonate = ews_request("ews-svc", "svc");
  impersonate.mutable_spec()->mutable_ews()->set_impersonate(ews().address("alice"));
  const auto svc_lease = connect(impersonate);
  ASSERT_FALSE(svc_lease.empty());
  page = list(svc_lease);
  ASSERT_EQ(page.messages_size(), 1);
  EXPECT_EQ(page.messages(0).subject(), "for-alice");

  // alice may not.
  auto not_allowed = ews_request("ews-alice-impersonates");
  not_allowed.mutable_spec()->mutable_ews()->set_impersonate(ews().address("bob"));
  st = client_->connect(not_allowed, &response);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();
  EXPECT_NE(st.error_message().find("ErrorImpersonateUserDenied"), std::string::npos) << st.error_message();
}

TEST_F(ews_session, EwsBadInputIsInvalidArgumentNamingTheField) {
  struct bad_case {
    std::string what;
    std::function<void(pb::SessionSpec&)> change;
    std::string field;  // must appear in the error message
  };
  const std::string http_url = "http://" + ews().ews_url().substr(std::string("https://").size());
  const std::vector<bad_case> cases = {
      {"http:// without allow_plaintext", [&](pb::SessionSpec& s) { s.mutable_ews()->set_url(http_url); },
       "spec.ews.url"},
      {"unknown version", [](pb::SessionSpec& s) { s.mutable_ews()->set_version("Exchange2099"); },
       "spec.ews.version"},
      {"timeout 5", [](pb::SessionSpec& s) { s.mutable_ews()->set_timeout_seconds(5); }, "spec.ews.timeout_seconds"},
      {"timeout 61", [](pb::SessionSpec& s) { s.mutable_ews()->set_timeout_seconds(61); },
       "spec.ews.timeout_seconds"},
      {"domain with a backslash", [](pb::SessionSpec& s) { s.mutable_ews()->set_domain("TESTLAB\\alice"); },
       "spec.ews.domain"},
      {"mailbox and impersonate",
       [&](pb::SessionSpec& s) {
         s.mutable_ews()->set_mailbox(ews().address("bob"));
         s.mutable_ews()->set_impersonate(ews().address("carol"));
       },
       "spec.ews.impersonate"},
      {"auth_scheme with OAuth2",
       [](pb::SessionSpec& s) {
         auto* cc = s.mutable_auth()->mutable_oauth2_client_credentials();
         cc->set_provider(pb::OAUTH2_PROVIDER_CUSTOM);
         cc->set_token_url("https://127.0.0.1:1/token");
         cc->set_client_id("client");
         cc->mutable_client_secret()->set_inline_value("client-secret");
         cc->set_username("alice@testlab.test");
         s.mutable_ews()->set_auth_scheme(pb::EWS_AUTH_SCHEME_NTLM);
       },
       "spec.ews.auth_scheme"},
      {"server.host set", [](pb::SessionSpec& s) { s.mutable_server()->set_host("127.0.0.1"); }, "spec.server.host"},
      {"server.port set", [](pb::SessionSpec& s) { s.mutable_server()->set_port(443); }, "spec.server.host / port"},
      {"no url", [](pb::SessionSpec& s) { s.mutable_ews()->clear_url(); }, "spec.ews.url"},
      {"ews leg on IMAP",
       [](pb::SessionSpec& s) {
         s.set_protocol(pb::PROTOCOL_IMAP);
         s.mutable_server()->set_host("127.0.0.1");
       },
       "spec.ews"},
  };
  for (const auto& c : cases) {
    auto request = ews_request("ews-bad");
    c.change(*request.mutable_spec());
    pb::ConnectResponse response;
    auto st = client_->connect(request, &response);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.what << ": " << st.error_message();
    EXPECT_NE(st.error_message().find(c.field), std::string::npos) << c.what << ": " << st.error_message();
  }
  EXPECT_EQ(ews().counters().at("requests"), 0) << "nothing reached the server";

  // Message names of the other kind.
  const std::string item_id = nlohmann::json::parse(ews().deliver("alice", [&] {
                                const std::string file = socket_dir_ + "/one.eml";
                                std::ofstream(file, std::ios::binary) << message("one");
                                return file;
                              }())).at("item_id");
  const auto ews_lease = connect(ews_request("ews-refs"));
  const auto imap_lease = connect(imaps_request("imap-refs"));
  std::string raw;
  auto st = fetch(imap_lease, item(item_id), &raw);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << "item ref on IMAP: " << st.error_message();
  EXPECT_NE(st.error_message().find("uid"), std::string::npos) << st.error_message();

  pb::GetMessageRequest by_uid;
  by_uid.set_lease_id(ews_lease);
  by_uid.set_folder("INBOX");
  by_uid.set_uid(1);
  grpc::ClientContext context;
  auto reader = mailbox_->GetMessage(&context, by_uid);
  pb::MessageChunk chunk;
  EXPECT_FALSE(reader->Read(&chunk));
  st = reader->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << "uid on EWS: " << st.error_message();
  EXPECT_NE(st.error_message().find("item_id"), std::string::npos) << st.error_message();

  pb::SetFlagsRequest flags;
  flags.set_lease_id(ews_lease);
  flags.add_uids(1);
  flags.set_seen(true);
  grpc::ClientContext context2;
  pb::SetFlagsResponse flags_response;
  st = mailbox_->SetFlags(&context2, flags, &flags_response);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << "uids on EWS: " << st.error_message();
  EXPECT_NE(st.error_message().find("item_id"), std::string::npos) << st.error_message();
  EXPECT_FALSE(find_item("alice", item_id).at("is_read").get<bool>()) << "nothing was changed";
}

TEST_F(ews_session, EwsStallingServerFailsTheCallWithinTheTimeoutAndTheSessionRecovers) {
  deliver("before-stall");
  auto request = ews_request("ews-stall");
  request.mutable_spec()->mutable_ews()->set_timeout_seconds(10);
  const auto lease = connect(request);
  const auto imap = connect(imaps_request("imap-during-stall"));
  ASSERT_FALSE(lease.empty());
  ASSERT_FALSE(imap.empty());

  ews().inject("stall", 45);
  const long requests_before = ews().counters()["requests"];
  const auto t0 = std::chrono::steady_clock::now();
  auto stalled = std::async(std::launch::async, [&] {
    grpc::Status st;
    list(lease, "INBOX", &st);
    return st;
  });
  // Once the fake holds the stalled request, the daemon and the IMAP session keep answering.
  ASSERT_TRUE(eventually([&] { return ews().counters()["requests"] > requests_before; }, 5s));
  for (int i = 0; i < 3; ++i) {
    const auto s0 = std::chrono::steady_clock::now();
    grpc::Status st;
    list(imap, "INBOX", &st);
    EXPECT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(status_of("ews-stall").name(), "ews-stall");
    EXPECT_LT(std::chrono::steady_clock::now() - s0, 3s);
  }
  const auto st = stalled.get();
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
              st.error_code() == grpc::StatusCode::UNAVAILABLE)
      << st.error_code() << ": " << st.error_message();
  EXPECT_LT(took, 15s) << "spec.ews.timeout_seconds is 10 (per request); the call took "
                       << std::chrono::duration_cast<std::chrono::seconds>(took).count() << " s";

  // The session opens a new connection and serves again.
  // READY again after a second login (the first READY may still be the one before the drop).
  EXPECT_TRUE(wait_for_status(
      "ews-stall",
      [](const pb::SessionStatus& s) { return s.state() == pb::SESSION_STATE_READY && s.counters().connects() >= 2; },
      30s));
  grpc::Status again;
  const auto page = list(lease, "INBOX", &again);
  EXPECT_TRUE(again.ok()) << again.error_message();
  EXPECT_EQ(page.messages_size(), 1);
  EXPECT_GE(ews().counters().at("tcp_connections"), 2) << "a new connection after the stalled one";
}

}  // namespace
}  // namespace mailbroker::testing
