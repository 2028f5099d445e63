#include "daemon/daemon_config.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

#include "secrets/secret_ref.hpp"

namespace mailbroker::daemon {
namespace {

TEST(daemon_config, DefaultsNeedNoFile) {
  daemon_config c;
  EXPECT_EQ(c.registry.session.default_linger.count(), 60);
  EXPECT_EQ(c.registry.default_lease_ttl.count(), 300);
  EXPECT_FALSE(default_socket_path().empty());
}

TEST(daemon_config, ParsesKeysCommentsAndBlankLines) {
  daemon_config c;
  auto e = apply_config_text(c, R"(# mailbrokerd.conf
socket = /tmp/x.sock
  log-level = debug   # trailing comment

default-linger-seconds = 5
socket-mode = 0600
reconnect-initial-ms = 250
)", "test.conf");
  ASSERT_TRUE(e.ok()) << e.message;
  EXPECT_EQ(c.socket_path, "/tmp/x.sock");
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.registry.session.default_linger.count(), 5);
  EXPECT_EQ(c.socket_mode, 0600u);
  EXPECT_EQ(c.registry.session.reconnect.initial.count(), 250);
  // render_config output parses back to the same settings.
  daemon_config again;
  ASSERT_TRUE(apply_config_text(again, render_config(c), "rendered").ok());
  EXPECT_EQ(render_config(again), render_config(c));
}

TEST(daemon_config, EwsConnectionsPerSessionIsBetween1And16DefaultFour) {
  daemon_config c;
  EXPECT_EQ(c.registry.session.http_connections, 4u);
  ASSERT_TRUE(apply_setting(c, "ews-connections-per-session", "1").ok());
  EXPECT_EQ(c.registry.session.http_connections, 1u);
  ASSERT_TRUE(apply_setting(c, "ews-connections-per-session", "16").ok());
  EXPECT_EQ(c.registry.session.http_connections, 16u);
  for (const char* bad : {"0", "17", "-1", "four"}) {
    auto e = apply_setting(c, "ews-connections-per-session", bad);
    EXPECT_FALSE(e.ok()) << bad;
    EXPECT_NE(e.message.find("ews-connections-per-session"), std::string::npos) << e.message;
  }
  EXPECT_EQ(c.registry.session.http_connections, 16u) << "a refused value changes nothing";
  EXPECT_NE(render_config(c).find("ews-connections-per-session = 16"), std::string::npos);
}

TEST(daemon_config, EwsAutodiscoverConnectToIsATestHookForLoopbackOnly) {
  daemon_config c;
  EXPECT_EQ(c.registry.session.ews_discovery.connect_to, nullptr) << "off unless configured";
  auto e = apply_setting(c, "ews-autodiscover-connect-to",
                         "Autodiscover.Testlab.Test:443=127.0.0.1:8443, exch01.testlab.test:8443=[::1]:8443");
  ASSERT_TRUE(e.ok()) << e.message;
  const auto* hook = c.registry.session.ews_discovery.connect_to.get();
  ASSERT_NE(hook, nullptr);
  auto to = session::override_for(hook, "autodiscover.testlab.test", 443);
  ASSERT_TRUE(to.has_value());
  EXPECT_EQ(to->host, "127.0.0.1");
  EXPECT_EQ(to->port, 8443);
  to = session::override_for(hook, "EXCH01.testlab.test", 8443);
  ASSERT_TRUE(to.has_value());
  EXPECT_EQ(to->host, "::1");
  EXPECT_FALSE(session::override_for(hook, "autodiscover.testlab.test", 444).has_value()) << "the port counts";
  EXPECT_FALSE(session::override_for(hook, "testlab.test", 443).has_value());
  // --print-config renders it, and the rendering parses back.
  const auto rendered = render_config(c);
  EXPECT_NE(rendered.find("ews-autodiscover-connect-to = autodiscover.testlab.test:443=127.0.0.1:8443,"
                          "exch01.testlab.test:8443=[::1]:8443"),
            std::string::npos)
      << rendered;
  daemon_config again;
  ASSERT_TRUE(apply_config_text(again, rendered, "rendered").ok());
  EXPECT_EQ(render_config(again), rendered);

  for (const std::string bad : {"autodiscover.testlab.test:443=192.0.2.7:443",  // not loopback
                                "autodiscover.testlab.test:443=10.0.0.1:443", "autodiscover.testlab.test:443=localhost:443",
                                "autodiscover.testlab.test=127.0.0.1:443",     // no port
                                "autodiscover.testlab.test:443", "a:0=127.0.0.1:1", "a:1=127.0.0.1:70000",
                                "a b:1=127.0.0.1:1"}) {
    daemon_config d;
    auto err = apply_setting(d, "ews-autodiscover-connect-to", bad);
    ASSERT_FALSE(err.ok()) << bad;
    EXPECT_EQ(err.code, errc::invalid_argument);
    EXPECT_EQ(err.message.rfind("ews-autodiscover-connect-to: ", 0), 0u) << err.message;
  }
  daemon_config d;
  auto err = apply_setting(d, "ews-autodiscover-connect-to", "a:1=192.0.2.7:443");
  EXPECT_NE(err.message.find("not a loopback IP address"), std::string::npos) << err.message;
  std::string many;
  for (int i = 0; i <= static_cast<int>(session::max_connect_overrides); ++i) {
    many += "h" + std::to_string(i) + ".test:443=127.0.0.1:443,";
  }
  err = apply_setting(d, "ews-autodiscover-connect-to", many);
  EXPECT_NE(err.message.find("more than"), std::string::npos) << err.message;
}

TEST(daemon_config, MessageCacheSizesAreBoundedAndNamed) {
  daemon_config c;
  ASSERT_TRUE(apply_config_text(c, "message-cache-session-mb = 0\nmessage-cache-total-mb = 64\n", "t").ok());
  EXPECT_EQ(c.registry.session.cache.session_bytes, 0u) << "0 turns the cache off";
  EXPECT_EQ(c.message_cache_total_mb, 64u);
  for (const char* bad : {"message-cache-session-mb = -1", "message-cache-session-mb = 2000000",
                          "message-cache-total-mb = lots", "message-cache-total-mb = 99999999999"}) {
    daemon_config d;
    auto e = apply_config_text(d, bad, "t");
    EXPECT_EQ(e.code, errc::invalid_argument) << bad;
    EXPECT_NE(e.message.find("message-cache"), std::string::npos) << e.message;
  }
}

TEST(daemon_config, ImapLimitsAndDeadConnectionAreBoundedAndNamed) {
  daemon_config defaults;
  EXPECT_EQ(defaults.registry.session.imap_limits.parser.max_parsed_bytes, 64u << 20);
  EXPECT_EQ(defaults.registry.session.imap_limits.max_pending_bytes, 128u << 20);
  EXPECT_EQ(defaults.registry.session.dead_connection.count(), 15);

  daemon_config c;
  ASSERT_TRUE(
      apply_config_text(c, "imap-max-response-mb = 16\nimap-max-pending-mb = 48\ndead-connection-seconds = 7\n", "t")
          .ok());
  const auto& l = c.registry.session.imap_limits;
  EXPECT_EQ(l.parser.max_response_bytes, 16u << 20);
  EXPECT_EQ(l.parser.max_parsed_bytes, 16u << 20);
  EXPECT_EQ(l.parser.max_literal_bytes, 16u << 20) << "a literal never exceeds its response";
  EXPECT_EQ(l.max_pending_bytes, 48u << 20);
  EXPECT_EQ(c.registry.session.dead_connection.count(), 7);
  ASSERT_TRUE(finish_config(c).ok());
  daemon_config again;
  ASSERT_TRUE(apply_config_text(again, render_config(c), "rendered").ok());
  EXPECT_EQ(again.registry.session.imap_limits.max_pending_bytes, 48u << 20);
  EXPECT_EQ(render_config(again), render_config(c));

  daemon_config big;
  ASSERT_TRUE(apply_config_text(big, "imap-max-response-mb = 512\n", "t").ok());
  EXPECT_EQ(big.registry.session.imap_limits.parser.max_literal_bytes, 32u << 20);

  for (const char* bad : {"imap-max-response-mb = 0", "imap-max-response-mb = 2048", "imap-max-pending-mb = 0",
                          "imap-max-pending-mb = x", "dead-connection-seconds = 1", "dead-connection-seconds = 601"}) {
    daemon_config d;
    auto e = apply_config_text(d, bad, "t");
    EXPECT_EQ(e.code, errc::invalid_argument) << bad;
    EXPECT_NE(e.message.find(std::string(bad).substr(0, std::string(bad).find(' '))), std::string::npos) << e.message;
  }
  // A pending budget smaller than one response would drop legitimate answers.
  daemon_config small;
  ASSERT_TRUE(apply_config_text(small, "imap-max-response-mb = 64\nimap-max-pending-mb = 32\n", "t").ok());
  auto e = finish_config(small);
  EXPECT_EQ(e.code, errc::invalid_argument);
  EXPECT_NE(e.message.find("imap-max-pending-mb"), std::string::npos) << e.message;
}

TEST(daemon_config, ErrorsNameFileLineAndKey) {
  daemon_config c;
  auto e = apply_config_text(c, "log-level = info\nlinger = 5\n", "my.conf");
  EXPECT_EQ(e.code, errc::invalid_argument);
  EXPECT_NE(e.message.find("my.conf:2"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("linger"), std::string::npos) << e.message;

  EXPECT_FALSE(apply_config_text(c, "io-threads = 0\n", "x").ok());
  EXPECT_FALSE(apply_config_text(c, "io-threads = two\n", "x").ok());
  EXPECT_FALSE(apply_config_text(c, "log-level = loud\n", "x").ok());
  EXPECT_FALSE(apply_config_text(c, "just words\n", "x").ok());
  EXPECT_EQ(apply_config_file(c, "/nonexistent.conf").code, errc::failed_precondition);
}


bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(daemon_config, StateKeysAndEffectivePaths) {
  daemon_config c;
  EXPECT_EQ(c.restore_grace.count(), 300);
  EXPECT_EQ(effective_state_dir(c), default_state_dir());
  EXPECT_EQ(effective_store_path(c), default_state_dir() + "/mailbroker.db");
  EXPECT_EQ(effective_vault_key_file(c), default_state_dir() + "/vault.key");

  ASSERT_TRUE(apply_config_text(c, "state-dir = /var/lib/mb\nrestore-grace-seconds = 0\n", "t").ok());
  EXPECT_EQ(c.restore_grace.count(), 0);
  EXPECT_EQ(effective_store_path(c), "/var/lib/mb/mailbroker.db");
  EXPECT_EQ(effective_vault_key_file(c), "/var/lib/mb/vault.key");

  ASSERT_TRUE(apply_config_text(c, "store-path = /srv/mb.db\nvault-key-file = /etc/mb/key\n", "t").ok());
  EXPECT_EQ(effective_store_path(c), "/srv/mb.db");
  EXPECT_EQ(effective_vault_key_file(c), "/etc/mb/key");

  ASSERT_TRUE(apply_setting(c, "state-dir", "none").ok());
  EXPECT_EQ(effective_state_dir(c), "");
  EXPECT_EQ(effective_store_path(c), "");  // no store at all, whatever store-path says
  EXPECT_EQ(effective_vault_key_file(c), "");
  EXPECT_TRUE(contains(render_config(c), "state-dir = none\n")) << render_config(c);

  EXPECT_TRUE(apply_setting(c, "restore-grace-seconds", "86400").ok());
  EXPECT_EQ(apply_setting(c, "restore-grace-seconds", "86401").code, errc::invalid_argument);
  EXPECT_EQ(apply_setting(c, "restore-grace-seconds", "-1").code, errc::invalid_argument);
}

TEST(daemon_config, OAuth2ConnectionIsNormalisedByFinishConfig) {
  daemon_config c;
  auto e = apply_config_text(c, R"(
oauth2-connection.corp.provider = microsoft
oauth2-connection.corp.tenant-id = contoso.onmicrosoft.com
oauth2-connection.corp.cloud = us-gcc-high
oauth2-connection.corp.client-id = app-id
oauth2-connection.corp.client-secret = env:MB_CORP_SECRET
oauth2-connection.corp.grant = authorization_code
oauth2-connection.corp.token-type = per-user
oauth2-connection.corp.refresh-token = vault:corp-rt
oauth2-connection.corp.ca-file = /etc/ca.pem
oauth2-connection.corp.username = shared@contoso.com
oauth2-connection.corp.redirect-uri = http://127.0.0.1:7000/cb
oauth2-connection.app.provider = custom
oauth2-connection.app.token-url = https://idp.example.com/token
oauth2-connection.app.authorize-url = https://idp.example.com/authorize
oauth2-connection.app.client-id = app2
oauth2-connection.app.client-secret = file:/etc/mb/app2
oauth2-connection.app.scopes = a  b c
)", "t.conf");
  ASSERT_TRUE(e.ok()) << e.message;
  ASSERT_TRUE(finish_config(c).ok());
  const auto& conns = c.registry.oauth2_connections;
  ASSERT_EQ(conns.size(), 2u);

  const auto& corp = conns.at("corp");
  EXPECT_EQ(corp.name, "corp");
  EXPECT_EQ(corp.username, "shared@contoso.com");
  const auto& o = corp.settings;
  EXPECT_EQ(o.connection, "corp");
  EXPECT_EQ(o.provider, session::oauth2_provider::microsoft);
  EXPECT_EQ(o.cloud, session::azure_cloud::us_gcc_high);
  EXPECT_EQ(o.grant, session::oauth2_grant::authorization_code);
  EXPECT_EQ(o.token_type, session::oauth2_token_type::per_user);
  EXPECT_EQ(o.client_id, "app-id");
  EXPECT_EQ(o.client_secret.kind, secrets::secret_ref::source::env);
  EXPECT_EQ(o.client_secret.value, "MB_CORP_SECRET");
  EXPECT_EQ(o.refresh_token.kind, secrets::secret_ref::source::vault);
  EXPECT_EQ(o.refresh_token.value, "corp-rt");
  EXPECT_EQ(o.token_ca_file, "/etc/ca.pem");
  EXPECT_EQ(o.redirect_uri, "http://127.0.0.1:7000/cb");
  EXPECT_EQ(o.token_url, "https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/token");
  EXPECT_EQ(o.authorize_url, "https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/authorize");
  EXPECT_EQ(o.scopes,
            (std::vector<std::string>{"https://outlook.office365.us/IMAP.AccessAsUser.All", "offline_access"}));

  const auto& app = conns.at("app").settings;
  EXPECT_EQ(app.grant, session::oauth2_grant::client_credentials);  // the default
  EXPECT_EQ(app.scopes, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(app.client_secret.kind, secrets::secret_ref::source::file);
  EXPECT_TRUE(app.authorize_url.empty());  // client credentials need none
}

TEST(daemon_config, OAuth2ConnectionSettingErrorsNameTheKey) {
  struct row {
    const char* key;
    const char* value;
  };
  const row rows[] = {
      {"oauth2-connection.corp.provider", "aol"},
      {"oauth2-connection.corp.cloud", "china"},
      {"oauth2-connection.corp.grant", "password"},
      {"oauth2-connection.corp.token-type", "per_user"},
      {"oauth2-connection.corp.colour", "blue"},
      {"oauth2-connection.corp", "x"},
      {"oauth2-connection..provider", "microsoft"},
      {"oauth2-connection.a b.provider", "microsoft"},
      {"oauth2-connection.corp.client-secret", "Xq8~s3cretValue"},
      {"oauth2-connection.corp.refresh-token", "0.AAAA-s3cret-refresh"},
      {"oauth2-connection.corp.client-secret", "env:"},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(std::string(r.key) + " = " + r.value);
    daemon_config c;
    auto e = apply_setting(c, r.key, r.value);
    EXPECT_EQ(e.code, errc::invalid_argument);
    EXPECT_TRUE(contains(e.message, r.key)) << e.message;
    EXPECT_FALSE(contains(e.message, "s3cret")) << e.message;
  }
}

TEST(daemon_config, FinishConfigRefusesBadConnections) {
  struct row {
    const char* text;
    const char* field;
  };
  const row rows[] = {
      {"oauth2-connection.c.provider = microsoft\noauth2-connection.c.tenant-id = t\n"
       "oauth2-connection.c.client-id = a\noauth2-connection.c.client-secret = env:S\n"
       "oauth2-connection.c.token-type = per-user\n",
       "oauth2-connection.c.token-type"},
      {"oauth2-connection.c.provider = microsoft\noauth2-connection.c.client-id = a\n"
       "oauth2-connection.c.client-secret = env:S\n",
       "oauth2-connection.c.tenant-id"},
      {"oauth2-connection.c.provider = google\noauth2-connection.c.client-id = a\n"
       "oauth2-connection.c.client-secret = env:S\n",
       "oauth2-connection.c.provider"},
      {"oauth2-connection.c.provider = google\noauth2-connection.c.client-id = a\n"
       "oauth2-connection.c.grant = authorization_code\noauth2-connection.c.redirect-uri = http://example.com:80/\n",
       "oauth2-connection.c.redirect-uri"},
      {"oauth2-connection.c.provider = custom\noauth2-connection.c.client-id = a\n"
       "oauth2-connection.c.client-secret = env:S\n",
       "oauth2-connection.c.token-url"},
      {"oauth2-connection.c.token-url = https://idp/token\noauth2-connection.c.client-secret = env:S\n",
       "oauth2-connection.c.client-id"},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.text);
    daemon_config c;
    ASSERT_TRUE(apply_config_text(c, r.text, "t").ok());
    auto e = finish_config(c);
    EXPECT_EQ(e.code, errc::invalid_argument);
    EXPECT_TRUE(contains(e.message, r.field)) << e.message;
  }
}

TEST(daemon_config, RenderShowsSecretReferencesAndParsesBack) {
  ::setenv("MB_RENDER_SECRET", "Xq8~s3cretValue", 1);
  daemon_config c;
  auto e = apply_config_text(c, R"(
state-dir = /var/lib/mb
restore-grace-seconds = 42
oauth2-connection.corp.provider = microsoft
oauth2-connection.corp.tenant-id = contoso
oauth2-connection.corp.client-id = app-id
oauth2-connection.corp.client-secret = env:MB_RENDER_SECRET
oauth2-connection.corp.refresh-token = vault:corp-rt
oauth2-connection.corp.grant = authorization_code
oauth2-connection.public.provider = google
oauth2-connection.public.client-id = native-app
oauth2-connection.public.grant = authorization_code
oauth2-connection.public.token-type = per-user
oauth2-connection.vaulted.provider = microsoft
oauth2-connection.vaulted.cloud = us-gcc-high
oauth2-connection.vaulted.tenant-id = contoso
oauth2-connection.vaulted.client-id = daemon-app
oauth2-connection.vaulted.client-secret = vault:app-secret
)", "t");
  ASSERT_TRUE(e.ok()) << e.message;
  ASSERT_TRUE(finish_config(c).ok());
  const auto text = render_config(c);
  EXPECT_TRUE(contains(text, "oauth2-connection.corp.client-secret = env:MB_RENDER_SECRET\n")) << text;
  EXPECT_TRUE(contains(text, "oauth2-connection.vaulted.client-secret = vault:app-secret\n")) << text;
  EXPECT_FALSE(contains(text, "s3cret")) << text;
  EXPECT_TRUE(contains(text, "restore-grace-seconds = 42\n")) << text;
  EXPECT_TRUE(contains(text, "store-path = /var/lib/mb/mailbroker.db\n")) << text;

  // --print-config output is a config file that means the same thing.
  daemon_config again;
  auto parsed = apply_config_text(again, text, "rendered");
  ASSERT_TRUE(parsed.ok()) << parsed.message << "\n" << text;
  ASSERT_TRUE(finish_config(again).ok());
  EXPECT_EQ(render_config(again), text);
  ASSERT_EQ(again.registry.oauth2_connections.size(), 3u);
  for (const auto& [name, conn] : c.registry.oauth2_connections) {
    SCOPED_TRACE(name);
    const auto& a = conn.settings;
    const auto& b = again.registry.oauth2_connections.at(name).settings;
    EXPECT_EQ(a.provider, b.provider);
    EXPECT_EQ(a.tenant_id, b.tenant_id);
    EXPECT_EQ(a.cloud, b.cloud);
    EXPECT_EQ(a.grant, b.grant);
    EXPECT_EQ(a.token_type, b.token_type);
    EXPECT_EQ(secrets::describe(a.client_secret), secrets::describe(b.client_secret));
    EXPECT_EQ(secrets::describe(a.refresh_token), secrets::describe(b.refresh_token));
    EXPECT_EQ(a.token_url, b.token_url);
    EXPECT_EQ(a.authorize_url, b.authorize_url);
    EXPECT_EQ(a.redirect_uri, b.redirect_uri);
    EXPECT_EQ(a.scopes, b.scopes);
  }
}

}  // namespace
}  // namespace mailbroker::daemon
