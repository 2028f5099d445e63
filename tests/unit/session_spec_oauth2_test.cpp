// normalise() for oauth2_authorization_code, oauth2_managed and oauth2_password,
// refresh_token_key(), make_token_request(), and the daemon's conversion of the password
// and implicit AuthSpec messages.
#include <gtest/gtest.h>

#include "daemon/proto_convert.hpp"
#include "session/session_spec.hpp"
#include "session/token_request.hpp"

namespace mailbroker::session {
namespace {

using src = secrets::secret_ref::source;

session_spec code_spec(oauth2_provider provider) {
  session_spec s;
  s.host = "outlook.office365.com";
  s.auth = auth_method::oauth2_authorization_code;
  s.username = "alice@contoso.com";
  s.oauth2.provider = provider;
  s.oauth2.client_id = "app-id";
  if (provider == oauth2_provider::microsoft) s.oauth2.tenant_id = "contoso.onmicrosoft.com";
  if (provider == oauth2_provider::custom) s.oauth2.token_url = "https://idp.example.com/token";
  return s;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(session_spec_authorization_code, MicrosoftPresetsPerCloud) {
  auto global = normalise(code_spec(oauth2_provider::microsoft), 0);
  ASSERT_TRUE(global.ok()) << global.err().message;
  const auto& g = global->oauth2;
  EXPECT_EQ(g.token_url, "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token");
  EXPECT_EQ(g.authorize_url, "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize");
  EXPECT_EQ(g.scopes, (std::vector<std::string>{"https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access"}));
  EXPECT_EQ(g.redirect_uri, "http://localhost:9999/callback");
  EXPECT_EQ(g.grant, oauth2_grant::authorization_code);
  EXPECT_TRUE(g.client_secret.empty());  // a public client needs none

  auto spec = code_spec(oauth2_provider::microsoft);
  spec.oauth2.cloud = azure_cloud::us_gcc_high;
  auto high = normalise(spec, 0);
  ASSERT_TRUE(high.ok()) << high.err().message;
  const auto& h = high->oauth2;
  EXPECT_EQ(h.token_url, "https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/token");
  EXPECT_EQ(h.authorize_url, "https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/authorize");
  EXPECT_EQ(h.scopes,
            (std::vector<std::string>{"https://outlook.office365.us/IMAP.AccessAsUser.All", "offline_access"}));
  EXPECT_EQ(h.redirect_uri, "http://localhost:9999/callback");
}

TEST(session_spec_authorization_code, GooglePreset) {
  auto r = normalise(code_spec(oauth2_provider::google), 0);
  ASSERT_TRUE(r.ok()) << r.err().message;
  EXPECT_EQ(r->oauth2.authorize_url, "https://accounts.google.com/o/oauth2/v2/auth");
  EXPECT_EQ(r->oauth2.token_url, "https://oauth2.googleapis.com/token");
  EXPECT_EQ(r->oauth2.scopes, std::vector<std::string>{"https://mail.google.com/"});
  EXPECT_EQ(r->oauth2.redirect_uri, "http://localhost:8888/Callback");
}

TEST(session_spec_authorization_code, GivenValuesWinOverThePreset) {
  auto spec = code_spec(oauth2_provider::microsoft);
  spec.oauth2.token_url = "https://proxy.example.com/token";
  spec.oauth2.authorize_url = "https://proxy.example.com/authorize";
  spec.oauth2.scopes = {"openid"};
  spec.oauth2.redirect_uri = "http://127.0.0.1:7000/cb";
  spec.oauth2.client_secret = {src::env, "MB_CS"};
  spec.oauth2.refresh_token = {src::vault, "rt"};
  auto r = normalise(spec, 0);
  ASSERT_TRUE(r.ok()) << r.err().message;
  EXPECT_EQ(r->oauth2.token_url, "https://proxy.example.com/token");
  EXPECT_EQ(r->oauth2.authorize_url, "https://proxy.example.com/authorize");
  EXPECT_EQ(r->oauth2.scopes, std::vector<std::string>{"openid"});
  EXPECT_EQ(r->oauth2.redirect_uri, "http://127.0.0.1:7000/cb");
  EXPECT_EQ(r->oauth2.refresh_token.value, "rt");
}

TEST(session_spec_authorization_code, ProvidersRefusedPerGrant) {
  struct row {
    oauth2_provider provider;
    oauth2_grant grant;
  };
  const row rows[] = {
      {oauth2_provider::yahoo, oauth2_grant::authorization_code},
      {oauth2_provider::msn, oauth2_grant::authorization_code},
      {oauth2_provider::google, oauth2_grant::client_credentials},
      {oauth2_provider::yahoo, oauth2_grant::client_credentials},
      {oauth2_provider::msn, oauth2_grant::client_credentials},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(static_cast<int>(r.provider) * 10 + static_cast<int>(r.grant));
    oauth2_settings o;
    o.provider = r.provider;
    o.client_id = "app-id";
    o.client_secret = {src::env, "MB_CS"};
    auto e = normalise_oauth2(o, r.grant, "oauth2-connection.x.");
    EXPECT_EQ(e.code, errc::invalid_argument);
    EXPECT_TRUE(contains(e.message, "oauth2-connection.x.provider")) << e.message;
  }
}

TEST(session_spec_authorization_code, ClientCredentialsDropsTheCodeFlowSettings) {
  oauth2_settings o;
  o.provider = oauth2_provider::microsoft;
  o.tenant_id = "t";
  o.client_id = "app-id";
  o.client_secret = {src::env, "MB_CS"};
  o.authorize_url = "https://login.example.com/authorize";
  o.redirect_uri = "http://localhost:1/cb";
  o.refresh_token = {src::env, "MB_RT"};
  ASSERT_TRUE(normalise_oauth2(o, oauth2_grant::client_credentials, "f.").ok());
  EXPECT_TRUE(o.authorize_url.empty());
  EXPECT_TRUE(o.redirect_uri.empty());
  EXPECT_TRUE(o.refresh_token.empty());
  EXPECT_EQ(o.grant, oauth2_grant::client_credentials);
}

TEST(session_spec_redirect_uri, LoopbackHttpWithAPortOnly) {
  const char* accepted[] = {
      "http://localhost:9999/callback", "http://127.0.0.1:1/",       "http://[::1]:8080/cb",
      "http://LocalHost:80",            "http://localhost:65535/x?y=1", "http://127.0.0.1:8888/Callback",
  };
  for (const char* uri : accepted) {
    SCOPED_TRACE(uri);
    auto spec = code_spec(oauth2_provider::microsoft);
    spec.oauth2.redirect_uri = uri;
    auto r = normalise(spec, 0);
    EXPECT_TRUE(r.ok()) << r.err().message;
  }
  const char* refused[] = {
      "https://localhost:9999/callback",  // the loopback listener speaks plain http
      "http://example.com:9999/callback",
      "http://localhost.example.com:9999/",
      "http://localhost@example.com:9999/",
      "http://127.0.0.2:9999/",
      "http://[::2]:9999/",
      "http://[::1/cb",
      "http://localhost/callback",
      "http://localhost",
      "http://localhost:/cb",
      "http://localhost:0/cb",
      "http://localhost:65536/cb",
      "http://localhost:99999/cb",
      "http://localhost:123456/cb",
      "http://localhost:9a/cb",
      "http://localhost:9999/cb#frag",
      "ftp://localhost:9999/",
      "localhost:9999",
  };
  for (const char* uri : refused) {
    SCOPED_TRACE(uri);
    auto spec = code_spec(oauth2_provider::microsoft);
    spec.oauth2.redirect_uri = uri;
    auto r = normalise(spec, 0);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.err().code, errc::invalid_argument);
    EXPECT_TRUE(contains(r.err().message, "spec.auth.oauth2_authorization_code.redirect_uri")) << r.err().message;
  }
}

TEST(session_spec_authorization_code, RejectionsNameTheField) {
  struct row {
    const char* name;
    void (*mutate)(session_spec&);
    const char* field;
  };
  const row rows[] = {
      {"no client id", [](session_spec& s) { s.oauth2.client_id.clear(); }, "client_id"},
      {"empty secret", [](session_spec& s) { s.oauth2.client_secret = {src::env, ""}; }, "client_secret"},
      {"http authorize", [](session_spec& s) { s.oauth2.authorize_url = "http://idp/authorize"; }, "authorize_url"},
      {"no tenant", [](session_spec& s) { s.oauth2.tenant_id.clear(); }, "tenant_id"},
      {"no user", [](session_spec& s) { s.username.clear(); }, "username"},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.name);
    auto spec = code_spec(oauth2_provider::microsoft);
    r.mutate(spec);
    auto n = normalise(spec, 0);
    ASSERT_FALSE(n.ok());
    EXPECT_EQ(n.err().code, errc::invalid_argument);
    EXPECT_TRUE(contains(n.err().message, std::string("spec.auth.oauth2_authorization_code.") + r.field))
        << n.err().message;
  }
}

// ---- managed connections --------------------------------------------------------------

managed_connections corp_connections(oauth2_grant grant, oauth2_token_type type) {
  managed_connection c;
  c.name = "corp";
  c.username = "shared@contoso.com";
  c.settings.provider = oauth2_provider::microsoft;
  c.settings.tenant_id = "contoso";
  c.settings.client_id = "corp-app";
  c.settings.client_secret = {src::vault, "corp-secret"};
  c.settings.token_type = type;
  EXPECT_TRUE(normalise_oauth2(c.settings, grant, "oauth2-connection.corp.").ok());
  c.settings.connection = "corp";
  return {{"corp", c}};
}

session_spec managed_spec(const std::string& connection, const std::string& user = {}) {
  session_spec s;
  s.host = "outlook.office365.com";
  s.auth = auth_method::oauth2_managed;
  s.username = user;
  s.oauth2.connection = connection;
  return s;
}

TEST(session_spec_managed, ResolvesTheConnection) {
  const auto conns = corp_connections(oauth2_grant::authorization_code, oauth2_token_type::shared);
  auto spec = managed_spec("corp");
  spec.oauth2.client_id = "ignored";  // the connection decides
  auto r = normalise(spec, 0, &conns);
  ASSERT_TRUE(r.ok()) << r.err().message;
  EXPECT_EQ(r->oauth2.connection, "corp");
  EXPECT_EQ(r->oauth2.client_id, "corp-app");
  EXPECT_EQ(r->oauth2.grant, oauth2_grant::authorization_code);
  EXPECT_EQ(r->oauth2.token_url, "https://login.microsoftonline.com/contoso/oauth2/v2.0/token");
  EXPECT_EQ(r->username, "shared@contoso.com");  // the connection's default user

  auto own_user = normalise(managed_spec("corp", "bob@contoso.com"), 0, &conns);
  ASSERT_TRUE(own_user.ok()) << own_user.err().message;
  EXPECT_EQ(own_user->username, "bob@contoso.com");
}

TEST(session_spec_managed, UnknownOrMissingConnectionIsNamed) {
  const auto conns = corp_connections(oauth2_grant::authorization_code, oauth2_token_type::shared);
  auto unknown = normalise(managed_spec("nope"), 0, &conns);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.err().code, errc::invalid_argument);
  EXPECT_TRUE(contains(unknown.err().message, "spec.auth.oauth2_managed.connection")) << unknown.err().message;
  EXPECT_TRUE(contains(unknown.err().message, "'nope'")) << unknown.err().message;

  auto none_configured = normalise(managed_spec("corp"), 0, nullptr);
  ASSERT_FALSE(none_configured.ok());
  EXPECT_EQ(none_configured.err().code, errc::invalid_argument);
  EXPECT_TRUE(contains(none_configured.err().message, "'corp'")) << none_configured.err().message;

  auto empty = normalise(managed_spec(""), 0, &conns);
  ASSERT_FALSE(empty.ok());
  EXPECT_TRUE(contains(empty.err().message, "spec.auth.oauth2_managed.connection")) << empty.err().message;
}

TEST(session_spec_managed, UserIsRequiredWhenTheConnectionHasNone) {
  auto conns = corp_connections(oauth2_grant::authorization_code, oauth2_token_type::per_user);
  conns.at("corp").username.clear();
  auto r = normalise(managed_spec("corp"), 0, &conns);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.err().message, "spec.auth.oauth2_managed.username")) << r.err().message;
}

TEST(session_spec_refresh_token_key, PerMethodAndTokenType) {
  const auto shared = corp_connections(oauth2_grant::authorization_code, oauth2_token_type::shared);
  const auto per_user = corp_connections(oauth2_grant::authorization_code, oauth2_token_type::per_user);
  const auto app_only = corp_connections(oauth2_grant::client_credentials, oauth2_token_type::shared);
  auto client_credentials = code_spec(oauth2_provider::microsoft);
  client_credentials.auth = auth_method::oauth2_client_credentials;
  client_credentials.oauth2.client_secret = {src::env, "MB_CS"};

  struct row {
    const char* name;
    session_spec spec;
    const managed_connections* conns;
    std::string key;
  };
  const row rows[] = {
      {"code", code_spec(oauth2_provider::google), nullptr, "session:demo"},
      {"managed shared", managed_spec("corp", "bob"), &shared, "managed:corp"},
      {"managed per user", managed_spec("corp", "bob"), &per_user, "managed:corp:bob"},
      {"managed app-only", managed_spec("corp", "bob"), &app_only, ""},
      {"client credentials", client_credentials, nullptr, ""},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.name);
    auto n = normalise(r.spec, 0, r.conns);
    ASSERT_TRUE(n.ok()) << n.err().message;
    EXPECT_EQ(refresh_token_key(*n, "demo"), r.key);
  }
}

TEST(session_spec_fingerprint_oauth2, NewMethodsCompareTheirIdentityFields) {
  const auto conns = corp_connections(oauth2_grant::authorization_code, oauth2_token_type::shared);
  auto other_conns = conns;
  other_conns["other"] = conns.at("corp");
  other_conns["other"].name = "other";
  other_conns["other"].settings.connection = "other";

  const auto a = *normalise(managed_spec("corp", "bob"), 0, &other_conns);
  EXPECT_EQ(fingerprint(a), fingerprint(*normalise(managed_spec("corp", "bob"), 0, &conns)));
  const auto b = *normalise(managed_spec("other", "bob"), 0, &other_conns);
  EXPECT_NE(fingerprint(a), fingerprint(b));
  EXPECT_EQ(first_difference(a, b), "spec.auth.oauth2_managed.connection ('corp' vs 'other')");

  const auto c = *normalise(code_spec(oauth2_provider::microsoft), 0);
  auto d_spec = code_spec(oauth2_provider::microsoft);
  EXPECT_EQ(fingerprint(c), fingerprint(*normalise(d_spec, 0)));
  EXPECT_EQ(first_difference(c, *normalise(d_spec, 0)), "");
  d_spec.oauth2.client_id = "other-app";
  const auto d = *normalise(d_spec, 0);
  EXPECT_NE(fingerprint(c), fingerprint(d));
  EXPECT_EQ(first_difference(c, d), "spec.auth.oauth2_authorization_code.client_id ('app-id' vs 'other-app')");

  auto e_spec = code_spec(oauth2_provider::microsoft);
  e_spec.oauth2.scopes = {"openid"};
  const auto e = *normalise(e_spec, 0);
  EXPECT_NE(fingerprint(c), fingerprint(e));
  EXPECT_EQ(first_difference(c, e), "spec.auth.oauth2_authorization_code.scopes");

  auto f_spec = code_spec(oauth2_provider::microsoft);
  f_spec.oauth2.client_secret = {src::vault, "cs"};
  const auto f = *normalise(f_spec, 0);
  EXPECT_NE(fingerprint(c), fingerprint(f));
  EXPECT_EQ(first_difference(c, f), "spec.auth.oauth2_authorization_code.client_secret");

  // Same settings, different method: never the same session.
  auto g_spec = f_spec;
  g_spec.auth = auth_method::oauth2_client_credentials;
  g_spec.oauth2.scopes = f.oauth2.scopes;
  const auto g = *normalise(g_spec, 0);
  EXPECT_NE(fingerprint(f), fingerprint(g));
  EXPECT_TRUE(contains(first_difference(f, g), "spec.auth (")) << first_difference(f, g);
}

// ---- make_token_request -----------------------------------------------------------------

TEST(session_token_request, AuthorizationCodeSession) {
  auto spec = code_spec(oauth2_provider::microsoft);
  spec.oauth2.refresh_token = {src::env, "MB_RT"};
  spec.oauth2.token_ca_file = "/etc/ca.pem";
  const auto n = *normalise(spec, 0);
  const auto r = make_token_request(n, "demo");
  EXPECT_EQ(r.grant, auth::grant_type::refresh_token);
  EXPECT_EQ(r.token_url, n.oauth2.token_url);
  EXPECT_EQ(r.client_id, "app-id");
  EXPECT_EQ(r.scopes, n.oauth2.scopes);
  EXPECT_EQ(r.ca_file, "/etc/ca.pem");
  EXPECT_EQ(r.refresh_token_key, "session:demo");
  EXPECT_EQ(r.initial_refresh_token.value, "MB_RT");
  EXPECT_EQ(r.field, "spec.auth.oauth2_authorization_code");
  EXPECT_TRUE(contains(r.reauthorize_hint, "mailbroker authorize demo")) << r.reauthorize_hint;
}

TEST(session_token_request, ManagedPerUserAndClientCredentials) {
  const auto per_user = corp_connections(oauth2_grant::authorization_code, oauth2_token_type::per_user);
  const auto r = make_token_request(*normalise(managed_spec("corp", "bob"), 0, &per_user), "s1");
  EXPECT_EQ(r.grant, auth::grant_type::refresh_token);
  EXPECT_EQ(r.refresh_token_key, "managed:corp:bob");
  EXPECT_EQ(r.client_secret.value, "corp-secret");
  EXPECT_TRUE(contains(r.reauthorize_hint, "--oauth2-connection corp --user bob")) << r.reauthorize_hint;
  // Users of one per-user connection never share a token.
  const auto alice = make_token_request(*normalise(managed_spec("corp", "alice"), 0, &per_user), "s2");
  EXPECT_NE(r.cache_key(), alice.cache_key());

  const auto app_only = corp_connections(oauth2_grant::client_credentials, oauth2_token_type::shared);
  const auto c = make_token_request(*normalise(managed_spec("corp", "bob"), 0, &app_only), "s1");
  EXPECT_EQ(c.grant, auth::grant_type::client_credentials);
  EXPECT_TRUE(c.refresh_token_key.empty());
  EXPECT_TRUE(c.reauthorize_hint.empty());
}

// ---- oauth2_password (ROPC) ----------------------------------------------------------

session_spec password_spec(oauth2_provider provider, protocol proto = protocol::imap) {
  session_spec s;
  s.proto = proto;
  if (proto == protocol::ews) {
    s.ews.emplace();
    s.ews->url = "https://outlook.office365.com/EWS/Exchange.asmx";
  } else {
    s.host = "outlook.office365.com";
  }
  s.auth = auth_method::oauth2_password;
  s.username = "alice@contoso.com";
  s.password = {src::vault, "alice-pw"};
  s.oauth2.provider = provider;
  s.oauth2.client_id = "app-id";
  if (provider == oauth2_provider::microsoft) s.oauth2.tenant_id = "contoso.onmicrosoft.com";
  if (provider == oauth2_provider::custom) s.oauth2.token_url = "https://idp.example.com/token";
  return s;
}

TEST(session_spec_password_grant, MicrosoftPresetsPerCloudAndProtocol) {
  struct row {
    protocol proto;
    azure_cloud cloud;
    const char* token_url;
    const char* scope;
  };
  const row rows[] = {
      {protocol::imap, azure_cloud::global,
       "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
       "https://outlook.office.com/IMAP.AccessAsUser.All"},
      {protocol::pop3, azure_cloud::global,
       "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
       "https://outlook.office.com/POP.AccessAsUser.All"},
      {protocol::ews, azure_cloud::global,
       "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
       "https://outlook.office365.com/EWS.AccessAsUser.All"},
      {protocol::imap, azure_cloud::us_gcc_high,
       "https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/token",
       "https://outlook.office365.us/IMAP.AccessAsUser.All"},
      {protocol::pop3, azure_cloud::us_gcc_high,
       "https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/token",
       "https://outlook.office365.us/POP.AccessAsUser.All"},
      {protocol::ews, azure_cloud::us_gcc_high,
       "https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/token",
       "https://outlook.office365.us/EWS.AccessAsUser.All"},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(std::string(protocol_name(r.proto)) + (r.cloud == azure_cloud::global ? " global" : " gcc-high"));
    auto spec = password_spec(oauth2_provider::microsoft, r.proto);
    spec.oauth2.cloud = r.cloud;
    auto n = normalise(spec, 0);
    ASSERT_TRUE(n.ok()) << n.err().message;
    EXPECT_EQ(n->oauth2.token_url, r.token_url);
    EXPECT_EQ(n->oauth2.scopes, std::vector<std::string>{r.scope});
    EXPECT_EQ(n->oauth2.grant, oauth2_grant::password);
    EXPECT_TRUE(n->oauth2.authorize_url.empty());
    EXPECT_TRUE(n->oauth2.client_secret.empty());  // a public client needs none
    EXPECT_EQ(n->password.value, "alice-pw");
    if (r.proto == protocol::ews) {
      EXPECT_EQ(n->ews->auth, ews_auth::bearer);
    }
  }
}

TEST(session_spec_password_grant, GivenValuesWinAndCodeFlowSettingsAreDropped) {
  auto spec = password_spec(oauth2_provider::microsoft);
  spec.oauth2.token_url = "https://proxy.example.com/token";
  spec.oauth2.scopes = {"https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access"};
  spec.oauth2.client_secret = {src::env, "MB_CS"};
  spec.oauth2.authorize_url = "https://login.example.com/authorize";
  spec.oauth2.redirect_uri = "http://localhost:1/cb";
  spec.oauth2.refresh_token = {src::env, "MB_RT"};
  spec.oauth2.connection = "stray";
  auto n = normalise(spec, 0);
  ASSERT_TRUE(n.ok()) << n.err().message;
  EXPECT_EQ(n->oauth2.token_url, "https://proxy.example.com/token");
  EXPECT_EQ(n->oauth2.scopes.size(), 2u);
  EXPECT_EQ(n->oauth2.client_secret.value, "MB_CS");
  EXPECT_TRUE(n->oauth2.authorize_url.empty());
  EXPECT_TRUE(n->oauth2.redirect_uri.empty());
  EXPECT_TRUE(n->oauth2.refresh_token.empty());
  EXPECT_TRUE(n->oauth2.connection.empty());
  EXPECT_EQ(refresh_token_key(*n, "demo"), "");  // nothing to refresh: each token is a new grant

  auto custom = normalise(password_spec(oauth2_provider::custom), 0);
  ASSERT_TRUE(custom.ok()) << custom.err().message;
  EXPECT_TRUE(custom->oauth2.scopes.empty());  // no preset for a custom server
  auto unspecified = password_spec(oauth2_provider::unspecified);
  unspecified.oauth2.token_url = "https://idp.example.com/token";
  ASSERT_TRUE(normalise(unspecified, 0).ok());
  EXPECT_EQ(normalise(unspecified, 0)->oauth2.provider, oauth2_provider::custom);
}

TEST(session_spec_password_grant, TenantsForWorkOrSchoolAccountsOnly) {
  for (const char* tenant : {"common", "consumers", "Common", "CONSUMERS"}) {
    SCOPED_TRACE(tenant);
    auto spec = password_spec(oauth2_provider::microsoft);
    spec.oauth2.tenant_id = tenant;
    auto n = normalise(spec, 0);
    ASSERT_FALSE(n.ok());
    EXPECT_EQ(n.err().code, errc::invalid_argument);
    EXPECT_TRUE(contains(n.err().message, "spec.auth.oauth2_password.tenant_id")) << n.err().message;
    EXPECT_TRUE(contains(n.err().message, "organizations")) << n.err().message;
  }
  auto spec = password_spec(oauth2_provider::microsoft);
  spec.oauth2.tenant_id = "organizations";
  auto n = normalise(spec, 0);
  ASSERT_TRUE(n.ok()) << n.err().message;
  EXPECT_EQ(n->oauth2.token_url, "https://login.microsoftonline.com/organizations/oauth2/v2.0/token");
  // The same tenant stays fine for the other grants.
  auto code = code_spec(oauth2_provider::microsoft);
  code.oauth2.tenant_id = "common";
  EXPECT_TRUE(normalise(code, 0).ok());
}

TEST(session_spec_password_grant, ProvidersWithoutAPasswordGrantAreRefused) {
  for (auto provider : {oauth2_provider::google, oauth2_provider::yahoo, oauth2_provider::msn}) {
    SCOPED_TRACE(static_cast<int>(provider));
    auto n = normalise(password_spec(provider), 0);
    ASSERT_FALSE(n.ok());
    EXPECT_EQ(n.err().code, errc::invalid_argument);
    EXPECT_TRUE(contains(n.err().message, "spec.auth.oauth2_password.provider")) << n.err().message;
    EXPECT_TRUE(contains(n.err().message, "password grant")) << n.err().message;
  }
}

TEST(session_spec_password_grant, RejectionsNameTheField) {
  struct row {
    const char* name;
    void (*mutate)(session_spec&);
    const char* field;
  };
  const row rows[] = {
      {"no client id", [](session_spec& s) { s.oauth2.client_id.clear(); }, "client_id"},
      {"empty secret", [](session_spec& s) { s.oauth2.client_secret = {src::env, ""}; }, "client_secret"},
      {"no tenant", [](session_spec& s) { s.oauth2.tenant_id.clear(); }, "tenant_id"},
      {"bad tenant", [](session_spec& s) { s.oauth2.tenant_id = "contoso/../x"; }, "tenant_id"},
      {"http token url", [](session_spec& s) { s.oauth2.token_url = "http://idp/token"; }, "token_url"},
      {"no user", [](session_spec& s) { s.username.clear(); }, "username"},
      {"user with CRLF", [](session_spec& s) { s.username = "alice\r\nbob"; }, "username"},
      {"user too long", [](session_spec& s) { s.username.assign(max_oauth2_username_length + 1, 'a'); }, "username"},
      {"no password", [](session_spec& s) { s.password = {}; }, "password"},
      {"empty password", [](session_spec& s) { s.password = {src::inline_value, ""}; }, "password"},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.name);
    auto spec = password_spec(oauth2_provider::microsoft);
    r.mutate(spec);
    auto n = normalise(spec, 0);
    ASSERT_FALSE(n.ok());
    EXPECT_EQ(n.err().code, errc::invalid_argument);
    EXPECT_TRUE(contains(n.err().message, std::string("spec.auth.oauth2_password.") + r.field)) << n.err().message;
  }
  auto longest = password_spec(oauth2_provider::microsoft);
  longest.username.assign(max_oauth2_username_length, 'a');
  EXPECT_TRUE(normalise(longest, 0).ok());
}

TEST(session_spec_password_grant, FingerprintCoversUserAndPasswordReference) {
  const auto a = *normalise(password_spec(oauth2_provider::microsoft), 0);
  EXPECT_EQ(fingerprint(a), fingerprint(*normalise(password_spec(oauth2_provider::microsoft), 0)));
  EXPECT_EQ(first_difference(a, *normalise(password_spec(oauth2_provider::microsoft), 0)), "");

  auto other_user = password_spec(oauth2_provider::microsoft);
  other_user.username = "bob@contoso.com";
  const auto b = *normalise(other_user, 0);
  EXPECT_NE(fingerprint(a), fingerprint(b));
  EXPECT_EQ(first_difference(a, b), "spec.auth.oauth2_password.username ('alice@contoso.com' vs 'bob@contoso.com')");

  auto other_ref = password_spec(oauth2_provider::microsoft);
  other_ref.password = {src::vault, "alice-pw-2"};
  const auto c = *normalise(other_ref, 0);
  EXPECT_NE(fingerprint(a), fingerprint(c));
  EXPECT_EQ(first_difference(a, c), "spec.auth.oauth2_password.password");  // by name only

  // Inline passwords: a different value is a different session, and never shown.
  auto inline_1 = password_spec(oauth2_provider::microsoft);
  inline_1.password = {src::inline_value, "s3cret-one"};
  auto inline_2 = inline_1;
  inline_2.password.value = "s3cret-two";
  const auto d = *normalise(inline_1, 0), e = *normalise(inline_2, 0);
  EXPECT_NE(fingerprint(d), fingerprint(e));
  EXPECT_EQ(first_difference(d, e), "spec.auth.oauth2_password.password");
  EXPECT_FALSE(contains(first_difference(d, e), "s3cret"));

  auto other_scope = password_spec(oauth2_provider::microsoft);
  other_scope.oauth2.scopes = {"openid"};
  const auto f = *normalise(other_scope, 0);
  EXPECT_EQ(first_difference(a, f), "spec.auth.oauth2_password.scopes");

  // Basic auth with the same user and password is another session.
  auto basic = password_spec(oauth2_provider::microsoft);
  basic.auth = auth_method::basic;
  const auto g = *normalise(basic, 0);
  EXPECT_NE(fingerprint(a), fingerprint(g));
  EXPECT_TRUE(contains(first_difference(a, g), "spec.auth (")) << first_difference(a, g);
}

TEST(session_token_request, PasswordGrantIsKeyedByUserAndPassword) {
  auto spec = password_spec(oauth2_provider::microsoft);
  spec.oauth2.client_secret = {src::env, "MB_CS"};
  spec.oauth2.token_ca_file = "/etc/ca.pem";
  const auto n = *normalise(spec, 0);
  const auto r = make_token_request(n, "demo");
  EXPECT_EQ(r.grant, auth::grant_type::password);
  EXPECT_EQ(r.token_url, n.oauth2.token_url);
  EXPECT_EQ(r.client_id, "app-id");
  EXPECT_EQ(r.client_secret.value, "MB_CS");
  EXPECT_EQ(r.scopes, n.oauth2.scopes);
  EXPECT_EQ(r.ca_file, "/etc/ca.pem");
  EXPECT_EQ(r.username, "alice@contoso.com");
  EXPECT_EQ(r.password.value, "alice-pw");
  EXPECT_EQ(r.field, "spec.auth.oauth2_password");
  EXPECT_TRUE(r.refresh_token_key.empty());
  // Another session name, same spec: one token.
  EXPECT_EQ(r.cache_key(), make_token_request(n, "other").cache_key());

  auto bob = spec;
  bob.username = "bob@contoso.com";
  EXPECT_NE(r.cache_key(), make_token_request(*normalise(bob, 0), "demo").cache_key());
  auto other_password = spec;
  other_password.password = {src::vault, "alice-pw-2"};
  EXPECT_NE(r.cache_key(), make_token_request(*normalise(other_password, 0), "demo").cache_key());
  // Never the client-credentials token of the same client.
  auto cc = spec;
  cc.auth = auth_method::oauth2_client_credentials;
  cc.oauth2.scopes = n.oauth2.scopes;
  EXPECT_NE(r.cache_key(), make_token_request(*normalise(cc, 0), "demo").cache_key());
}

// ---- the daemon's conversion -------------------------------------------------------------

TEST(proto_convert_auth, PasswordGrantFieldsArrive) {
  daemon::pb::AuthSpec auth;
  auto* p = auth.mutable_oauth2_password();
  p->set_provider(daemon::pb::OAUTH2_PROVIDER_MICROSOFT);
  p->set_tenant_id("contoso");
  p->set_cloud(daemon::pb::AZURE_CLOUD_US_GCC_HIGH);
  p->set_client_id("app-id");
  p->mutable_client_secret()->set_env("MB_CS");
  p->set_token_url("https://proxy.example.com/token");
  p->add_scopes("a");
  p->add_scopes("b");
  p->set_username("alice@contoso.com");
  p->mutable_password()->set_vault("alice-pw");
  p->set_token_ca_file("/etc/ca.pem");
  session_spec s;
  ASSERT_TRUE(daemon::from_proto(auth, s).ok());
  EXPECT_EQ(s.auth, auth_method::oauth2_password);
  EXPECT_EQ(s.oauth2.provider, oauth2_provider::microsoft);
  EXPECT_EQ(s.oauth2.tenant_id, "contoso");
  EXPECT_EQ(s.oauth2.cloud, azure_cloud::us_gcc_high);
  EXPECT_EQ(s.oauth2.client_id, "app-id");
  EXPECT_EQ(s.oauth2.client_secret.kind, src::env);
  EXPECT_EQ(s.oauth2.client_secret.value, "MB_CS");
  EXPECT_EQ(s.oauth2.token_url, "https://proxy.example.com/token");
  EXPECT_EQ(s.oauth2.scopes, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(s.username, "alice@contoso.com");
  EXPECT_EQ(s.password.kind, src::vault);
  EXPECT_EQ(s.password.value, "alice-pw");
  EXPECT_EQ(s.oauth2.token_ca_file, "/etc/ca.pem");

  p->set_provider(static_cast<daemon::pb::OAuth2Provider>(99));
  session_spec bad;
  const auto e = daemon::from_proto(auth, bad);
  EXPECT_EQ(e.code, errc::invalid_argument);
  EXPECT_TRUE(contains(e.message, "spec.auth.oauth2_password.provider")) << e.message;
}

TEST(proto_convert_auth, ImplicitGrantIsAlwaysRefusedWithTheAlternatives) {
  daemon::pb::AuthSpec empty_fields;
  empty_fields.mutable_oauth2_implicit();
  daemon::pb::AuthSpec full;
  auto* i = full.mutable_oauth2_implicit();
  i->set_client_id("app-id");
  i->set_tenant_id("contoso");
  i->set_redirect_uri("http://localhost:9999/callback");
  for (const auto* auth : {&empty_fields, &full}) {
    session_spec s;
    const auto e = daemon::from_proto(*auth, s);
    EXPECT_EQ(e.code, errc::invalid_argument);
    EXPECT_EQ(e.message, daemon::implicit_grant_refusal);
    EXPECT_EQ(e.message.rfind("spec.auth.oauth2_implicit: ", 0), 0u) << e.message;
    EXPECT_TRUE(contains(e.message, "refresh token")) << e.message;
    EXPECT_TRUE(contains(e.message, "oauth2_authorization_code")) << e.message;
    EXPECT_TRUE(contains(e.message, "mailbroker authorize")) << e.message;
    EXPECT_TRUE(contains(e.message, "oauth2_client_credentials")) << e.message;
    EXPECT_EQ(s.auth, auth_method::none);
  }
}

}  // namespace
}  // namespace mailbroker::session
