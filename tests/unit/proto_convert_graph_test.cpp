// The daemon's conversion of Graph sessions: ConnectRequest (PROTOCOL_GRAPH, GraphLeg)
// to core, the stored SessionSpec bytes the journal restores from, and
// status_snapshot::http to SessionStatus.http.
#include <gtest/gtest.h>

#include "daemon/proto_convert.hpp"
#include "session/session_spec.hpp"

namespace mailbroker::session {
namespace {

namespace pb = daemon::pb;

pb::ConnectRequest graph_request() {
  pb::ConnectRequest request;
  request.set_session("graph-bot");
  auto* spec = request.mutable_spec();
  spec->set_protocol(pb::PROTOCOL_GRAPH);
  auto* cc = spec->mutable_auth()->mutable_oauth2_client_credentials();
  cc->set_provider(pb::OAUTH2_PROVIDER_MICROSOFT);
  cc->set_tenant_id("contoso");
  cc->set_client_id("app-id");
  cc->mutable_client_secret()->set_env("MB_CS");
  auto* leg = spec->mutable_graph();
  leg->set_cloud(pb::GRAPH_CLOUD_CUSTOM);
  leg->set_base_url("https://127.0.0.1:8443/graph");
  leg->set_mailbox("Shared@Contoso.com");
  leg->set_timeout_seconds(45);
  leg->set_max_concurrent_requests(2);
  return request;
}

TEST(proto_convert_graph, TheLegArrivesWithoutAServerMessage) {
  auto converted = daemon::from_proto(graph_request());
  ASSERT_TRUE(converted.ok()) << converted.err().message;
  const auto& s = converted->spec;
  EXPECT_EQ(s.proto, protocol::graph);
  ASSERT_TRUE(s.graph);
  EXPECT_EQ(s.graph->cloud, graph_cloud::custom);
  EXPECT_TRUE(s.graph->cloud_given);
  EXPECT_EQ(s.graph->base_url, "https://127.0.0.1:8443/graph");
  EXPECT_EQ(s.graph->mailbox, "Shared@Contoso.com");
  EXPECT_EQ(s.graph->timeout, std::chrono::seconds(45));
  EXPECT_EQ(s.graph->max_concurrent_requests, 2u);
  EXPECT_EQ(converted->raw_port, 0u);

  auto n = normalise(s, converted->raw_port);
  ASSERT_TRUE(n.ok()) << n.err().message;
  EXPECT_EQ(n->host, "127.0.0.1");
  EXPECT_EQ(n->port, 8443);
}

TEST(proto_convert_graph, CloudValuesAndServerTlsOptions) {
  auto request = graph_request();
  auto* leg = request.mutable_spec()->mutable_graph();
  leg->clear_base_url();
  leg->set_cloud(pb::GRAPH_CLOUD_UNSPECIFIED);
  auto unspecified = daemon::from_proto(request);
  ASSERT_TRUE(unspecified.ok());
  EXPECT_FALSE(unspecified->spec.graph->cloud_given) << "UNSPECIFIED: the OAuth2 cloud decides";
  leg->set_cloud(pb::GRAPH_CLOUD_GLOBAL);
  EXPECT_EQ(daemon::from_proto(request)->spec.graph->cloud, graph_cloud::global);
  leg->set_cloud(pb::GRAPH_CLOUD_US_GCC_HIGH);
  EXPECT_EQ(daemon::from_proto(request)->spec.graph->cloud, graph_cloud::us_gcc_high);
  EXPECT_TRUE(daemon::from_proto(request)->spec.graph->cloud_given);

  leg->set_cloud(static_cast<pb::GraphCloud>(42));
  auto bad = daemon::from_proto(request);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.err().code, errc::invalid_argument);
  EXPECT_NE(bad.err().message.find("spec.graph.cloud"), std::string::npos) << bad.err().message;

  leg->set_cloud(pb::GRAPH_CLOUD_GLOBAL);
  auto* server = request.mutable_spec()->mutable_server();
  server->mutable_tls()->set_ca_file("/etc/graph-ca.pem");
  server->set_allow_plaintext(true);
  auto with_server = daemon::from_proto(request);
  ASSERT_TRUE(with_server.ok());
  EXPECT_EQ(with_server->spec.ca_file, "/etc/graph-ca.pem");
  EXPECT_TRUE(with_server->spec.allow_plaintext);

  // Other protocols still need spec.server.
  request.mutable_spec()->clear_server();
  request.mutable_spec()->set_protocol(pb::PROTOCOL_IMAP);
  EXPECT_FALSE(daemon::from_proto(request).ok());
}

// The journal stores the request's SessionSpec bytes and converts them again at start.
TEST(proto_convert_graph, TheLegSurvivesTheStoredRecord) {
  const auto original = graph_request();
  std::string bytes;
  ASSERT_TRUE(original.spec().SerializeToString(&bytes));
  pb::ConnectRequest restored;
  ASSERT_TRUE(restored.mutable_spec()->ParseFromString(bytes));
  restored.set_session("graph-bot");
  auto a = daemon::from_proto(original);
  auto b = daemon::from_proto(restored);
  ASSERT_TRUE(a.ok() && b.ok());
  auto na = normalise(a->spec, a->raw_port);
  auto nb = normalise(b->spec, b->raw_port);
  ASSERT_TRUE(na.ok() && nb.ok());
  EXPECT_EQ(nb->graph->service_root, "https://127.0.0.1:8443/graph/v1.0");
  EXPECT_EQ(nb->graph->mailbox, "shared@contoso.com");
  EXPECT_EQ(nb->graph->max_concurrent_requests, 2u);
  EXPECT_EQ(nb->graph->timeout, std::chrono::seconds(45));
  EXPECT_EQ(fingerprint(na.value()), fingerprint(nb.value())) << "a restored session matches its bots' specs";
}

TEST(proto_convert_graph, HttpStatusIsConverted) {
  status_snapshot s;
  s.proto = protocol::graph;
  pb::SessionStatus without;
  daemon::to_proto(s, &without);
  EXPECT_FALSE(without.has_http()) << "IMAP and POP3 sessions have no http block";
  EXPECT_EQ(without.server().protocol(), pb::PROTOCOL_GRAPH);

  auto& h = s.http.emplace();
  h.connections = 3;
  h.max_in_flight = 4;
  h.in_flight = 2;
  h.waiting = 7;
  h.requests = 12345678901ULL;
  h.throttled = 5;
  h.last_retry_after = std::chrono::milliseconds(2500);
  h.mailbox = "/users/shared%40contoso.com";
  pb::SessionStatus idle;
  daemon::to_proto(s, &idle);
  ASSERT_TRUE(idle.has_http());
  EXPECT_EQ(idle.http().connections(), 3u);
  EXPECT_EQ(idle.http().max_in_flight(), 4u);
  EXPECT_EQ(idle.http().in_flight(), 2u);
  EXPECT_EQ(idle.http().waiting(), 7u);
  EXPECT_EQ(idle.http().requests(), 12345678901ULL);
  EXPECT_EQ(idle.http().throttled(), 5u);
  EXPECT_EQ(idle.http().last_retry_after_ms(), 2500u);
  EXPECT_EQ(idle.http().mailbox(), "/users/shared%40contoso.com");
  EXPECT_FALSE(idle.http().has_throttled_until());

  h.throttled_until = system_time(std::chrono::seconds(1'800'000'000) + std::chrono::milliseconds(250));
  h.last_retry_after = std::chrono::hours(24 * 60);  // beyond uint32 ms: clamped, not wrapped
  pb::SessionStatus held;
  daemon::to_proto(s, &held);
  ASSERT_TRUE(held.http().has_throttled_until());
  EXPECT_EQ(held.http().throttled_until().seconds(), 1'800'000'000);
  EXPECT_EQ(held.http().throttled_until().nanos(), 250'000'000);
  EXPECT_EQ(held.http().last_retry_after_ms(), UINT32_MAX);
}

}  // namespace
}  // namespace mailbroker::session
