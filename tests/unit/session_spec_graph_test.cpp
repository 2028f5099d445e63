// normalise(), fingerprint() and first_difference() for PROTOCOL_GRAPH sessions
// (SessionSpec.graph): defaults from the cloud, scopes per grant, and every refusal
// naming its field.
#include <gtest/gtest.h>

#include "session/session_spec.hpp"

namespace mailbroker::session {
namespace {

using src = secrets::secret_ref::source;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// App-only access to a shared mailbox: the usual Graph bot.
session_spec app_only_spec() {
  session_spec s;
  s.proto = protocol::graph;
  s.auth = auth_method::oauth2_client_credentials;
  s.oauth2.provider = oauth2_provider::microsoft;
  s.oauth2.tenant_id = "contoso";
  s.oauth2.client_id = "app-id";
  s.oauth2.client_secret = {src::env, "MB_CS"};
  s.graph.emplace();
  s.graph->mailbox = "Shared@Contoso.com";
  return s;
}

// Delegated access (authorization code) to the signed-in user's own mailbox (/me).
session_spec delegated_spec() {
  session_spec s = app_only_spec();
  s.auth = auth_method::oauth2_authorization_code;
  s.oauth2.client_secret = {};
  s.graph->mailbox.clear();
  return s;
}

session_spec custom_spec(const std::string& base_url) {
  session_spec s = app_only_spec();
  s.oauth2.provider = oauth2_provider::custom;
  s.oauth2.tenant_id.clear();
  s.oauth2.token_url = "https://127.0.0.1:9443/token";
  s.oauth2.scopes = {"https://127.0.0.1:8443/.default"};
  s.graph->cloud = graph_cloud::custom;
  s.graph->cloud_given = true;
  s.graph->base_url = base_url;
  return s;
}

session_spec normalised(const session_spec& spec, const managed_connections* conns = nullptr) {
  auto r = normalise(spec, 0, conns);
  EXPECT_TRUE(r.ok()) << r.err().message;
  return r.ok() ? r.value() : session_spec{};
}

TEST(session_spec_graph, AppOnlyDefaultsComeFromTheGlobalCloud) {
  const auto n = normalised(app_only_spec());
  ASSERT_TRUE(n.graph);
  EXPECT_EQ(n.graph->cloud, graph_cloud::global);
  EXPECT_EQ(n.graph->service_root, "https://graph.microsoft.com/v1.0");
  EXPECT_EQ(n.host, "graph.microsoft.com");
  EXPECT_EQ(n.port, 443);
  EXPECT_EQ(n.tls, tls_mode::implicit);
  EXPECT_EQ(connection_target(n), "graph.microsoft.com:443");
  EXPECT_EQ(n.oauth2.scopes, (std::vector<std::string>{"https://graph.microsoft.com/.default"}));
  EXPECT_EQ(n.oauth2.token_url, "https://login.microsoftonline.com/contoso/oauth2/v2.0/token");
  EXPECT_EQ(n.graph->timeout, default_graph_timeout);
  EXPECT_EQ(n.connect_timeout, std::chrono::milliseconds(default_graph_timeout));
  EXPECT_EQ(n.graph->max_concurrent_requests, default_graph_concurrency);
  EXPECT_EQ(n.graph->mailbox, "shared@contoso.com") << "an address is lower-cased";
  EXPECT_EQ(n.username, "shared@contoso.com") << "Status shows the mailbox as the user";
}

TEST(session_spec_graph, UsGccHighComesFromTheOAuth2CloudOrIsGiven) {
  auto spec = app_only_spec();
  spec.oauth2.cloud = azure_cloud::us_gcc_high;
  const auto n = normalised(spec);
  EXPECT_EQ(n.graph->cloud, graph_cloud::us_gcc_high);
  EXPECT_EQ(n.graph->service_root, "https://graph.microsoft.us/v1.0");
  EXPECT_EQ(n.host, "graph.microsoft.us");
  EXPECT_EQ(n.port, 443);
  EXPECT_EQ(n.oauth2.scopes, (std::vector<std::string>{"https://graph.microsoft.us/.default"}));
  EXPECT_EQ(n.oauth2.token_url, "https://login.microsoftonline.us/contoso/oauth2/v2.0/token");

  spec.graph->cloud = graph_cloud::us_gcc_high;
  spec.graph->cloud_given = true;
  EXPECT_EQ(normalised(spec).graph->service_root, "https://graph.microsoft.us/v1.0") << "given and agreeing";

  // A custom token server names no Azure cloud: the Graph cloud is whatever is given.
  auto custom_idp = app_only_spec();
  custom_idp.oauth2.provider = oauth2_provider::custom;
  custom_idp.oauth2.token_url = "https://idp.example.com/token";
  custom_idp.graph->cloud = graph_cloud::us_gcc_high;
  custom_idp.graph->cloud_given = true;
  EXPECT_EQ(normalised(custom_idp).host, "graph.microsoft.us");
  EXPECT_TRUE(normalised(custom_idp).oauth2.scopes.empty()) << "custom provider: scopes as given";
}

TEST(session_spec_graph, DelegatedScopesPerGrantAndCloud) {
  const auto code = normalised(delegated_spec());
  EXPECT_EQ(code.oauth2.scopes, (std::vector<std::string>{"https://graph.microsoft.com/Mail.ReadWrite",
                                                          "https://graph.microsoft.com/Mail.Send", "offline_access"}));
  EXPECT_EQ(code.graph->mailbox, "");
  EXPECT_EQ(code.username, "") << "no user needed: /me is the token's user";

  auto us = delegated_spec();
  us.oauth2.cloud = azure_cloud::us_gcc_high;
  EXPECT_EQ(normalised(us).oauth2.scopes, (std::vector<std::string>{"https://graph.microsoft.us/Mail.ReadWrite",
                                                                    "https://graph.microsoft.us/Mail.Send",
                                                                    "offline_access"}));

  auto password = delegated_spec();
  password.auth = auth_method::oauth2_password;
  password.oauth2.tenant_id = "organizations";
  password.username = "alice@contoso.com";
  password.password = {src::vault, "alice-pw"};
  const auto p = normalised(password);
  EXPECT_EQ(p.oauth2.scopes, (std::vector<std::string>{"https://graph.microsoft.com/Mail.ReadWrite",
                                                       "https://graph.microsoft.com/Mail.Send"}));
  EXPECT_EQ(p.username, "alice@contoso.com");

  password.username.clear();
  auto no_user = normalise(password, 0);
  ASSERT_FALSE(no_user.ok());
  EXPECT_TRUE(contains(no_user.err().message, "spec.auth.oauth2_password.username")) << no_user.err().message;

  auto given = delegated_spec();
  given.oauth2.scopes = {"https://graph.microsoft.com/Mail.Read"};
  EXPECT_EQ(normalised(given).oauth2.scopes, given.oauth2.scopes) << "given scopes win";

  auto own_user = delegated_spec();
  own_user.username = "alice@contoso.com";
  own_user.graph->mailbox = "shared@contoso.com";
  const auto o = normalised(own_user);
  EXPECT_EQ(o.username, "alice@contoso.com") << "a given user is kept (the token's user)";
  EXPECT_EQ(o.graph->mailbox, "shared@contoso.com");
}

TEST(session_spec_graph, CustomCloudTakesHostAndPortFromTheBaseUrl) {
  const auto n = normalised(custom_spec("https://127.0.0.1:8443/graph/"));
  EXPECT_EQ(n.graph->cloud, graph_cloud::custom);
  EXPECT_EQ(n.graph->base_url, "https://127.0.0.1:8443/graph");
  EXPECT_EQ(n.graph->service_root, "https://127.0.0.1:8443/graph/v1.0");
  EXPECT_EQ(n.host, "127.0.0.1");
  EXPECT_EQ(n.port, 8443);
  EXPECT_EQ(n.tls, tls_mode::implicit);
  EXPECT_EQ(n.oauth2.scopes, (std::vector<std::string>{"https://127.0.0.1:8443/.default"}));

  const auto upper = normalised(custom_spec("https://Graph.Example.COM"));
  EXPECT_EQ(upper.host, "graph.example.com");
  EXPECT_EQ(upper.port, 443);

  const auto v6 = normalised(custom_spec("https://[::1]:9443"));
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(connection_target(v6), "[::1]:9443");

  auto http = custom_spec("http://127.0.0.1:8080");
  http.allow_plaintext = true;
  http.ca_file = "/etc/ca.pem";
  const auto plain = normalised(http);
  EXPECT_EQ(plain.tls, tls_mode::plain);
  EXPECT_EQ(plain.port, 8080);
  EXPECT_EQ(plain.ca_file, "") << "TLS options mean nothing over http";

  // Microsoft tokens for a custom Graph: the scopes name the custom host.
  auto ms = custom_spec("https://127.0.0.1:8443/graph");
  ms.oauth2.provider = oauth2_provider::microsoft;
  ms.oauth2.tenant_id = "contoso";
  ms.oauth2.token_url.clear();
  ms.oauth2.scopes.clear();
  EXPECT_EQ(normalised(ms).oauth2.scopes, (std::vector<std::string>{"https://127.0.0.1:8443/.default"}));
}

TEST(session_spec_graph, TuningBoundsAreInclusive) {
  for (int seconds : {10, 120}) {
    auto spec = app_only_spec();
    spec.graph->timeout = std::chrono::seconds(seconds);
    EXPECT_EQ(normalised(spec).graph->timeout.count(), seconds);
  }
  for (std::uint32_t n : {1u, 16u}) {
    auto spec = app_only_spec();
    spec.graph->max_concurrent_requests = n;
    EXPECT_EQ(normalised(spec).graph->max_concurrent_requests, n);
  }
}

struct refusal {
  const char* name;
  void (*mutate)(session_spec&, std::uint32_t&);
  std::vector<const char*> parts;  // each must be in the message
};

TEST(session_spec_graph, EveryRefusalNamesItsField) {
  const refusal cases[] = {
      {"no leg", [](session_spec& s, std::uint32_t&) { s.graph.reset(); }, {"spec.graph is required for PROTOCOL_GRAPH"}},
      {"leg on imap",
       [](session_spec& s, std::uint32_t&) {
         s.proto = protocol::imap;
         s.host = "imap.example.com";
       },
       {"spec.graph is only for PROTOCOL_GRAPH sessions"}},
      {"ews leg", [](session_spec& s, std::uint32_t&) { s.ews.emplace(); }, {"spec.ews is only for PROTOCOL_EWS"}},
      {"smtp leg", [](session_spec& s, std::uint32_t&) { s.smtp.emplace(); }, {"spec.smtp"}},
      {"host", [](session_spec& s, std::uint32_t&) { s.host = "graph.microsoft.com"; }, {"spec.server.host / port"}},
      {"port", [](session_spec&, std::uint32_t& port) { port = 443; }, {"spec.server.host / port"}},
      {"basic",
       [](session_spec& s, std::uint32_t&) {
         s.auth = auth_method::basic;
         s.username = "a@contoso.com";
         s.password = {src::env, "PW"};
       },
       {"spec.auth: Graph takes OAuth2 tokens only (oauth2_client_credentials, oauth2_authorization_code, "
        "oauth2_managed or oauth2_password)"}},
      {"none", [](session_spec& s, std::uint32_t&) { s.auth = auth_method::none; }, {"spec.auth: Graph takes OAuth2"}},
      {"app-only without mailbox", [](session_spec& s, std::uint32_t&) { s.graph->mailbox.clear(); },
       {"spec.graph.mailbox is required with app-only tokens (client credentials have no /me)"}},
      {"clouds disagree",
       [](session_spec& s, std::uint32_t&) {
         s.graph->cloud = graph_cloud::global;
         s.graph->cloud_given = true;
         s.oauth2.cloud = azure_cloud::us_gcc_high;
       },
       {"spec.graph.cloud (global)", "spec.auth.oauth2_client_credentials.cloud (us_gcc_high)"}},
      {"custom without base_url",
       [](session_spec& s, std::uint32_t&) {
         s.graph->cloud = graph_cloud::custom;
         s.graph->cloud_given = true;
       },
       {"spec.graph.base_url is required for GRAPH_CLOUD_CUSTOM"}},
      {"base_url with global",
       [](session_spec& s, std::uint32_t&) {
         s.graph->cloud = graph_cloud::global;
         s.graph->cloud_given = true;
         s.graph->base_url = "https://127.0.0.1:8443";
       },
       {"spec.graph.base_url is only for GRAPH_CLOUD_CUSTOM"}},
      {"base_url without a cloud", [](session_spec& s, std::uint32_t&) { s.graph->base_url = "https://127.0.0.1:8443"; },
       {"spec.graph.base_url is only for GRAPH_CLOUD_CUSTOM"}},
      {"base_url with a query",
       [](session_spec& s, std::uint32_t&) { s = custom_spec("https://127.0.0.1:8443/?x=1"); },
       {"spec.graph.base_url", "query"}},
      {"base_url with credentials",
       [](session_spec& s, std::uint32_t&) { s = custom_spec("https://user:secret@127.0.0.1:8443"); },
       {"spec.graph.base_url", "user name or password"}},
      {"base_url not a URL", [](session_spec& s, std::uint32_t&) { s = custom_spec("127.0.0.1:8443"); },
       {"spec.graph.base_url"}},
      {"http without allow_plaintext", [](session_spec& s, std::uint32_t&) { s = custom_spec("http://127.0.0.1:8080"); },
       {"spec.graph.base_url", "spec.server.allow_plaintext"}},
      {"mailbox with a space", [](session_spec& s, std::uint32_t&) { s.graph->mailbox = "a b@contoso.com"; },
       {"spec.graph.mailbox"}},
      {"mailbox with a slash", [](session_spec& s, std::uint32_t&) { s.graph->mailbox = "../admin"; },
       {"spec.graph.mailbox"}},
      {"mailbox too long", [](session_spec& s, std::uint32_t&) { s.graph->mailbox = std::string(321, 'a'); },
       {"spec.graph.mailbox", "320"}},
      {"timeout too short", [](session_spec& s, std::uint32_t&) { s.graph->timeout = std::chrono::seconds(9); },
       {"spec.graph.timeout_seconds", "10", "120"}},
      {"timeout too long", [](session_spec& s, std::uint32_t&) { s.graph->timeout = std::chrono::seconds(121); },
       {"spec.graph.timeout_seconds"}},
      {"too many requests", [](session_spec& s, std::uint32_t&) { s.graph->max_concurrent_requests = 17; },
       {"spec.graph.max_concurrent_requests", "16"}},
  };
  for (const auto& c : cases) {
    auto spec = app_only_spec();
    std::uint32_t port = 0;
    c.mutate(spec, port);
    auto r = normalise(spec, port);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.err().code, errc::invalid_argument) << c.name;
    for (const char* part : c.parts) EXPECT_TRUE(contains(r.err().message, part)) << c.name << ": " << r.err().message;
    EXPECT_FALSE(contains(r.err().message, "secret")) << c.name << ": never echo a URL's credentials";
  }
}

managed_connections graph_connections(oauth2_grant grant, oauth2_token_type type, azure_cloud cloud) {
  managed_connection c;
  c.name = "corp";
  c.settings.provider = oauth2_provider::microsoft;
  c.settings.tenant_id = "contoso";
  c.settings.cloud = cloud;
  c.settings.client_id = "corp-app";
  c.settings.client_secret = {src::vault, "corp-secret"};
  c.settings.scopes = {"https://graph.microsoft.com/.default"};
  c.settings.token_type = type;
  EXPECT_TRUE(normalise_oauth2(c.settings, grant, "oauth2-connection.corp.").ok());
  c.settings.connection = "corp";
  return {{"corp", c}};
}

session_spec managed_graph_spec(const std::string& mailbox) {
  session_spec s;
  s.proto = protocol::graph;
  s.auth = auth_method::oauth2_managed;
  s.oauth2.connection = "corp";
  s.graph.emplace();
  s.graph->mailbox = mailbox;
  return s;
}

TEST(session_spec_graph, ManagedConnectionsBringTheirCloudAndScopes) {
  const auto app_only = graph_connections(oauth2_grant::client_credentials, oauth2_token_type::shared, azure_cloud::global);
  const auto n = normalised(managed_graph_spec("shared@contoso.com"), &app_only);
  EXPECT_EQ(n.oauth2.scopes, (std::vector<std::string>{"https://graph.microsoft.com/.default"}));
  EXPECT_EQ(n.username, "shared@contoso.com");
  EXPECT_EQ(n.host, "graph.microsoft.com");

  auto no_mailbox = normalise(managed_graph_spec(""), 0, &app_only);
  ASSERT_FALSE(no_mailbox.ok());
  EXPECT_TRUE(contains(no_mailbox.err().message, "spec.graph.mailbox is required with app-only tokens"))
      << no_mailbox.err().message;

  const auto us = graph_connections(oauth2_grant::client_credentials, oauth2_token_type::shared, azure_cloud::us_gcc_high);
  EXPECT_EQ(normalised(managed_graph_spec("shared@contoso.com"), &us).graph->cloud, graph_cloud::us_gcc_high);
  auto disagree = managed_graph_spec("shared@contoso.com");
  disagree.graph->cloud = graph_cloud::global;
  disagree.graph->cloud_given = true;
  auto refused = normalise(disagree, 0, &us);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(contains(refused.err().message, "spec.graph.cloud (global)")) << refused.err().message;
  EXPECT_TRUE(contains(refused.err().message, "spec.auth.oauth2_managed.cloud (us_gcc_high)")) << refused.err().message;

  // Delegated per-user tokens are keyed by user: /me needs one named.
  const auto per_user =
      graph_connections(oauth2_grant::authorization_code, oauth2_token_type::per_user, azure_cloud::global);
  auto me = normalise(managed_graph_spec(""), 0, &per_user);
  ASSERT_FALSE(me.ok());
  EXPECT_TRUE(contains(me.err().message, "spec.auth.oauth2_managed.username")) << me.err().message;
  auto named = managed_graph_spec("");
  named.username = "alice@contoso.com";
  EXPECT_EQ(refresh_token_key(normalised(named, &per_user), "s"), "managed:corp:alice@contoso.com");
  EXPECT_EQ(refresh_token_key(normalised(managed_graph_spec("Bob@Contoso.com"), &per_user), "s"),
            "managed:corp:bob@contoso.com");
}

TEST(session_spec_graph, FingerprintCoversCloudRootAndMailboxButNotTuning) {
  const auto base = normalised(app_only_spec());
  auto same_mailbox_other_case = app_only_spec();
  same_mailbox_other_case.graph->mailbox = "SHARED@contoso.COM";
  EXPECT_EQ(fingerprint(base), fingerprint(normalised(same_mailbox_other_case)));
  EXPECT_EQ(first_difference(base, normalised(same_mailbox_other_case)), "");

  auto tuned = app_only_spec();
  tuned.graph->max_concurrent_requests = 8;
  tuned.graph->timeout = std::chrono::seconds(60);
  EXPECT_EQ(fingerprint(base), fingerprint(normalised(tuned)));
  EXPECT_EQ(first_difference(base, normalised(tuned)), "");

  auto other_mailbox = app_only_spec();
  other_mailbox.graph->mailbox = "sales@contoso.com";
  EXPECT_NE(fingerprint(base), fingerprint(normalised(other_mailbox)));
  EXPECT_EQ(first_difference(base, normalised(other_mailbox)).rfind("spec.graph.mailbox", 0), 0u)
      << first_difference(base, normalised(other_mailbox));

  // An object id is not an address: its spelling is kept as given.
  auto object_id = app_only_spec();
  object_id.graph->mailbox = "4A1B2C3D-0000-4000-8000-000000000001";
  EXPECT_EQ(normalised(object_id).graph->mailbox, "4A1B2C3D-0000-4000-8000-000000000001");

  auto us = app_only_spec();
  us.oauth2.cloud = azure_cloud::us_gcc_high;
  EXPECT_NE(fingerprint(base), fingerprint(normalised(us)));
  EXPECT_FALSE(first_difference(base, normalised(us)).empty());

  // Same host and port, another path prefix: only the service root tells them apart.
  const auto a = normalised(custom_spec("https://127.0.0.1:8443/a"));
  const auto b = normalised(custom_spec("https://127.0.0.1:8443/b"));
  EXPECT_NE(fingerprint(a), fingerprint(b));
  EXPECT_EQ(first_difference(a, b).rfind("spec.graph.base_url", 0), 0u) << first_difference(a, b);
  EXPECT_EQ(fingerprint(a), fingerprint(normalised(custom_spec("https://127.0.0.1:8443/a/"))));
}

}  // namespace
}  // namespace mailbroker::session
