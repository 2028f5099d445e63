#include "session/session_spec.hpp"

#include <gtest/gtest.h>

namespace mailbroker::session {
namespace {

session_spec valid_spec() {
  session_spec s;
  s.host = "Mail.Example.ORG";
  s.tls = tls_mode::implicit;
  s.auth = auth_method::basic;
  s.username = "alice";
  s.password = {secrets::secret_ref::source::env, "MB_PW"};
  return s;
}

TEST(session_name, AcceptsAndRejects) {
  EXPECT_TRUE(validate_session_name("demo").ok());
  EXPECT_TRUE(validate_session_name("Bot_1.inbox-2").ok());
  EXPECT_TRUE(validate_session_name(std::string(128, 'a')).ok());
  EXPECT_EQ(validate_session_name("").code, errc::invalid_argument);
  EXPECT_EQ(validate_session_name(std::string(129, 'a')).code, errc::invalid_argument);
  EXPECT_EQ(validate_session_name("a b").code, errc::invalid_argument);
  EXPECT_EQ(validate_session_name("ä").code, errc::invalid_argument);
}

TEST(session_spec_normalise, AppliesDefaultsAndLowerCasesHost) {
  auto r = normalise(valid_spec(), 0);
  ASSERT_TRUE(r.ok()) << r.err().message;
  EXPECT_EQ(r->host, "mail.example.org");
  EXPECT_EQ(r->port, 993);
  EXPECT_EQ(r->keepalive, default_keepalive);
  EXPECT_EQ(r->connect_timeout, default_connect_timeout);
  auto starttls = valid_spec();
  starttls.tls = tls_mode::starttls;
  EXPECT_EQ(normalise(starttls, 0)->port, 143);
}

struct invalid_case {
  const char* name;
  void (*mutate)(session_spec&, std::uint32_t&);
  errc code;
  const char* field;
};

TEST(session_spec_normalise, RejectsWithTheFieldNamed) {
  const invalid_case cases[] = {
      {"no host", [](session_spec& s, std::uint32_t&) { s.host.clear(); }, errc::invalid_argument, "spec.server.host"},
      {"bad host", [](session_spec& s, std::uint32_t&) { s.host = "a b"; }, errc::invalid_argument, "spec.server.host"},
      {"port", [](session_spec&, std::uint32_t& p) { p = 65536; }, errc::invalid_argument, "spec.server.port"},
      {"plain", [](session_spec& s, std::uint32_t&) { s.tls = tls_mode::plain; }, errc::invalid_argument,
       "allow_plaintext"},
      {"no auth", [](session_spec& s, std::uint32_t&) { s.auth = auth_method::none; }, errc::invalid_argument,
       "spec.auth"},
      {"no user", [](session_spec& s, std::uint32_t&) { s.username.clear(); }, errc::invalid_argument,
       "spec.auth.basic.username"},
      {"no password", [](session_spec& s, std::uint32_t&) { s.password = {}; }, errc::invalid_argument,
       "spec.auth.basic.password"},
      {"keepalive", [](session_spec& s, std::uint32_t&) { s.keepalive = std::chrono::seconds(4); },
       errc::invalid_argument, "keepalive"},
      {"keepalive max", [](session_spec& s, std::uint32_t&) { s.keepalive = std::chrono::seconds(1741); },
       errc::invalid_argument, "keepalive"},
      {"linger", [](session_spec& s, std::uint32_t&) { s.linger = std::chrono::seconds(86401); },
       errc::invalid_argument, "linger"},
      {"smtp as the main protocol", [](session_spec& s, std::uint32_t&) { s.proto = protocol::smtp; },
       errc::unimplemented, "spec.smtp"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto s = valid_spec();
    std::uint32_t port = 993;
    c.mutate(s, port);
    auto r = normalise(s, port);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.err().code, c.code);
    EXPECT_NE(r.err().message.find(c.field), std::string::npos) << r.err().message;
  }
}

TEST(session_spec_fingerprint, IdentityFieldsOnly) {
  auto a = *normalise(valid_spec(), 993);
  auto b = valid_spec();
  b.host = "MAIL.example.org";
  b.keepalive = std::chrono::seconds(30);  // tuning: not identity
  b.linger = std::chrono::seconds(5);
  auto nb = *normalise(b, 0);  // 0 defaults to 993 too
  EXPECT_EQ(fingerprint(a), fingerprint(nb));
  EXPECT_EQ(first_difference(a, nb), "");

  auto c = nb;
  c.username = "bob";
  EXPECT_NE(fingerprint(a), fingerprint(c));
  EXPECT_NE(first_difference(a, c).find("spec.auth.basic.username"), std::string::npos);
  c = nb;
  c.port = 10993;
  EXPECT_NE(first_difference(a, c).find("spec.server.port ('993' vs '10993')"), std::string::npos)
      << first_difference(a, c);
}

TEST(session_spec_fingerprint, InlinePasswordsCompareByValueWithoutRevealingIt) {
  auto a = valid_spec();
  a.password = {secrets::secret_ref::source::inline_value, "hunter2"};
  auto b = a;
  auto c = a;
  c.password.value = "hunter3";
  auto na = *normalise(a, 0), nb = *normalise(b, 0), nc = *normalise(c, 0);
  EXPECT_EQ(fingerprint(na), fingerprint(nb));
  EXPECT_NE(fingerprint(na), fingerprint(nc));
  EXPECT_EQ(first_difference(na, nc), "spec.auth.basic.password");
  EXPECT_EQ(secrets::identity(na.password).find("hunter2"), std::string::npos);
}

}  // namespace
}  // namespace mailbroker::session

namespace mailbroker::session {
namespace {

session_spec oauth2_spec(oauth2_provider provider) {
  session_spec s;
  s.host = "outlook.office365.com";
  s.auth = auth_method::oauth2_client_credentials;
  s.username = "bot@contoso.com";
  s.oauth2.provider = provider;
  s.oauth2.client_id = "app-id";
  s.oauth2.client_secret = {secrets::secret_ref::source::env, "MB_CLIENT_SECRET"};
  return s;
}

TEST(session_spec_oauth2, MicrosoftPresetsPerCloud) {
  auto global = oauth2_spec(oauth2_provider::microsoft);
  global.oauth2.tenant_id = "contoso.onmicrosoft.com";
  auto g = normalise(global, 0);
  ASSERT_TRUE(g.ok()) << g.err().message;
  EXPECT_EQ(g->oauth2.token_url, "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token");
  EXPECT_EQ(g->oauth2.scopes, std::vector<std::string>{"https://outlook.office365.com/.default"});

  auto gcc = global;
  gcc.oauth2.cloud = azure_cloud::us_gcc_high;
  auto h = normalise(gcc, 0);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->oauth2.token_url, "https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/token");
  EXPECT_EQ(h->oauth2.scopes, std::vector<std::string>{"https://outlook.office365.us/.default"});
  EXPECT_NE(fingerprint(*g), fingerprint(*h));
  EXPECT_NE(first_difference(*g, *h).find("token_url"), std::string::npos);
}

TEST(session_spec_oauth2, RejectionsNameTheField) {
  struct c {
    oauth2_provider provider;
    void (*mutate)(session_spec&);
    const char* field;
  };
  const c cases[] = {
      {oauth2_provider::google, [](session_spec&) {}, "provider"},
      {oauth2_provider::yahoo, [](session_spec&) {}, "provider"},
      {oauth2_provider::msn, [](session_spec&) {}, "provider"},
      {oauth2_provider::microsoft, [](session_spec&) {}, "tenant_id"},
      {oauth2_provider::microsoft, [](session_spec& s) { s.oauth2.tenant_id = "a/b"; }, "tenant_id"},
      {oauth2_provider::custom, [](session_spec&) {}, "token_url"},
      {oauth2_provider::custom, [](session_spec& s) { s.oauth2.token_url = "http://idp/token"; }, "https"},
      {oauth2_provider::custom,
       [](session_spec& s) {
         s.oauth2.token_url = "https://idp/token";
         s.oauth2.client_id.clear();
       },
       "client_id"},
      {oauth2_provider::custom,
       [](session_spec& s) {
         s.oauth2.token_url = "https://idp/token";
         s.oauth2.client_secret = {};
       },
       "client_secret"},
      {oauth2_provider::custom,
       [](session_spec& s) {
         s.oauth2.token_url = "https://idp/token";
         s.username.clear();
       },
       "username"},
  };
  for (const auto& t : cases) {
    auto s = oauth2_spec(t.provider);
    t.mutate(s);
    auto r = normalise(s, 0);
    ASSERT_FALSE(r.ok()) << t.field;
    EXPECT_EQ(r.err().code, errc::invalid_argument);
    EXPECT_NE(r.err().message.find(t.field), std::string::npos) << r.err().message;
  }
}

}  // namespace
}  // namespace mailbroker::session

namespace mailbroker::session {
namespace {

TEST(session_spec_pop3, DefaultsPortsPerTlsMode) {
  auto spec = valid_spec();
  spec.proto = protocol::pop3;
  EXPECT_EQ(normalise(spec, 0)->port, 995);
  spec.tls = tls_mode::starttls;
  EXPECT_EQ(normalise(spec, 0)->port, 110);
  spec.proto = protocol::smtp;
  EXPECT_EQ(normalise(spec, 0).err().code, errc::unimplemented) << "SMTP is a leg, not a session";
}

TEST(session_spec_ews, TakesTheEndpointFromTheUrlAndChecksEveryField) {
  auto spec = valid_spec();
  spec.proto = protocol::ews;
  spec.host.clear();
  auto missing = normalise(spec, 0);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.err().message.find("spec.ews"), std::string::npos);
  spec.ews.emplace();
  spec.ews->url = "https://Mail.Example.com/EWS/Exchange.asmx";
  auto ok = normalise(spec, 0);
  ASSERT_TRUE(ok) << ok.err().message;
  EXPECT_EQ(ok->host, "mail.example.com");
  EXPECT_EQ(ok->port, 443);
  EXPECT_EQ(ok->tls, tls_mode::implicit);
  EXPECT_EQ(ok->ews->path, "/EWS/Exchange.asmx");
  EXPECT_EQ(ok->ews->version, "Exchange2013_SP1");
  EXPECT_EQ(ok->ews->timeout, std::chrono::seconds(10));
  EXPECT_EQ(ok->ews->auth, ews_auth::ntlm);

  auto with = [&](auto change) {
    auto s = spec;
    change(s);
    return normalise(s, 0);
  };
  auto field_of = [](const result<session_spec>& r) { return r ? std::string("ok") : r.err().message; };
  EXPECT_NE(field_of(with([](session_spec& s) { s.ews->url = "http://mail.example.com/EWS/Exchange.asmx"; }))
                .find("spec.ews.url"), std::string::npos);
  EXPECT_NE(field_of(with([](session_spec& s) { s.ews->version = "Exchange2016"; })).find("spec.ews.version"),
            std::string::npos);
  EXPECT_NE(field_of(with([](session_spec& s) { s.ews->timeout = std::chrono::seconds(5); }))
                .find("spec.ews.timeout_seconds"), std::string::npos);
  EXPECT_NE(field_of(with([](session_spec& s) { s.ews->timeout = std::chrono::seconds(61); }))
                .find("spec.ews.timeout_seconds"), std::string::npos);
  EXPECT_NE(field_of(with([](session_spec& s) { s.ews->domain = "CORP\\x"; })).find("spec.ews.domain"),
            std::string::npos);
  EXPECT_NE(field_of(with([](session_spec& s) {
              s.ews->mailbox = "a@example.com";
              s.ews->impersonate = "b@example.com";
            })).find("spec.ews.mailbox and spec.ews.impersonate"),
            std::string::npos);
  EXPECT_NE(field_of(with([](session_spec& s) { s.host = "other.example.com"; })).find("spec.server.host"),
            std::string::npos);
  EXPECT_NE(field_of(with([](session_spec& s) { s.ews->autodiscover_email = "a@example.com"; }))
                .find("spec.ews.url and spec.ews.autodiscover_email"), std::string::npos);
  // A different path, version or mailbox is another session.
  auto other = with([](session_spec& s) { s.ews->mailbox = "shared@example.com"; });
  ASSERT_TRUE(other);
  EXPECT_NE(fingerprint(ok.value()), fingerprint(other.value()));
  EXPECT_EQ(first_difference(ok.value(), other.value()).rfind("spec.ews.mailbox", 0), 0u);
}

TEST(session_spec_ews, AutodiscoverEmailInsteadOfTheUrlLeavesTheEndpointToTheSession) {
  auto spec = valid_spec();
  spec.proto = protocol::ews;
  spec.host.clear();
  spec.ews.emplace();
  spec.ews->autodiscover_email = "Alice@Example.COM";
  auto ok = normalise(spec, 0);
  ASSERT_TRUE(ok) << ok.err().message;
  EXPECT_TRUE(ok->host.empty());
  EXPECT_EQ(ok->port, 0);
  EXPECT_EQ(ok->tls, tls_mode::implicit);
  EXPECT_TRUE(ok->ews->path.empty());
  EXPECT_EQ(ok->ews->autodiscover_email, "Alice@example.com") << "the domain is lower-cased, the local part kept";
  EXPECT_EQ(ok->ews->version, "Exchange2013_SP1");
  EXPECT_EQ(connection_target(ok.value()), "autodiscover:example.com");

  auto with = [&](auto change) {
    auto s = spec;
    change(s);
    return normalise(s, 0);
  };
  auto message_of = [](const result<session_spec>& r) { return r ? std::string("ok") : r.err().message; };
  struct bad_case {
    std::string email;
    std::string says;
  };
  const std::vector<bad_case> bad = {
      {"alice", "spec.ews.autodiscover_email must be a plain SMTP address"},
      {"@example.com", "spec.ews.autodiscover_email must be a plain SMTP address"},
      {"a@b@example.com", "spec.ews.autodiscover_email must be a plain SMTP address"},
      {"Alice <alice@example.com>", "spec.ews.autodiscover_email must be a plain SMTP address"},
      {"alice@[192.0.2.1]", "spec.ews.autodiscover_email"},
      {"alice@exa_mple.com", "spec.ews.autodiscover_email"},
      {"alice@example..com", "spec.ews.autodiscover_email"},
      {std::string(400, 'a') + "@example.com", "at most 320 characters"},
  };
  for (const auto& b : bad) {
    auto r = with([&](session_spec& s) { s.ews->autodiscover_email = b.email; });
    ASSERT_FALSE(r) << b.email;
    EXPECT_EQ(r.err().code, errc::invalid_argument);
    EXPECT_NE(r.err().message.find(b.says), std::string::npos) << b.email << ": " << r.err().message;
  }
  auto both = with([](session_spec& s) { s.ews->url = "https://mail.example.com/EWS/Exchange.asmx"; });
  ASSERT_FALSE(both);
  EXPECT_NE(message_of(both).find("spec.ews.url and spec.ews.autodiscover_email"), std::string::npos);
  auto neither = with([](session_spec& s) { s.ews->autodiscover_email.clear(); });
  ASSERT_FALSE(neither);
  EXPECT_NE(message_of(neither).find("spec.ews.autodiscover_email"), std::string::npos) << "the message offers it";
  EXPECT_NE(message_of(with([](session_spec& s) { s.host = "mail.example.com"; })).find("spec.server.host"),
            std::string::npos);

  // The address is part of the identity; a URL session keeps its old fingerprint.
  auto bob = with([](session_spec& s) { s.ews->autodiscover_email = "bob@example.com"; });
  ASSERT_TRUE(bob);
  EXPECT_NE(fingerprint(ok.value()), fingerprint(bob.value()));
  EXPECT_EQ(first_difference(ok.value(), bob.value()),
            "spec.ews.autodiscover_email ('Alice@example.com' vs 'bob@example.com')");
  auto same = with([](session_spec& s) { s.ews->autodiscover_email = "Alice@EXAMPLE.com"; });
  ASSERT_TRUE(same);
  EXPECT_EQ(fingerprint(ok.value()), fingerprint(same.value()));
  auto by_url = spec;
  by_url.ews->autodiscover_email.clear();
  by_url.ews->url = "https://mail.example.com/EWS/Exchange.asmx";
  auto url_spec = normalise(by_url, 0);
  ASSERT_TRUE(url_spec);
  EXPECT_NE(fingerprint(ok.value()), fingerprint(url_spec.value()));
  EXPECT_EQ(first_difference(url_spec.value(), ok.value()).rfind("spec.server.host", 0), 0u);
  EXPECT_EQ(connection_target(url_spec.value()), "mail.example.com:443");
}

TEST(session_spec_smtp_leg, NormalisesAndNamesItsFields) {
  auto spec = valid_spec();
  spec.smtp.emplace();
  spec.smtp->host = "SMTP.Example.ORG";
  auto r = normalise(spec, 0);
  ASSERT_TRUE(r.ok()) << r.err().message;
  EXPECT_EQ(r->smtp->host, "smtp.example.org");
  EXPECT_EQ(r->smtp->port, 465u);
  EXPECT_EQ(r->poll_interval, default_poll_interval);
  spec.smtp->tls = tls_mode::starttls;
  EXPECT_EQ(normalise(spec, 0)->smtp->port, 587u);

  auto bad = spec;
  bad.smtp->host.clear();
  EXPECT_NE(normalise(bad, 0).err().message.find("spec.smtp.server.host"), std::string::npos);
  bad = spec;
  bad.smtp->port = 70000;
  EXPECT_NE(normalise(bad, 0).err().message.find("spec.smtp.server.port"), std::string::npos);
  bad = spec;
  bad.smtp->tls = tls_mode::plain;
  EXPECT_NE(normalise(bad, 0).err().message.find("spec.smtp.server.allow_plaintext"), std::string::npos);
  bad = spec;
  bad.smtp->own_credentials = true;
  EXPECT_NE(normalise(bad, 0).err().message.find("spec.smtp.basic.username"), std::string::npos);
  bad.smtp->username = "sender";
  EXPECT_NE(normalise(bad, 0).err().message.find("spec.smtp.basic.password"), std::string::npos);
  bad = spec;
  bad.poll_interval = std::chrono::seconds(4000);
  EXPECT_NE(normalise(bad, 0).err().message.find("spec.poll_interval_seconds"), std::string::npos);
}

TEST(session_spec_smtp_leg, IsPartOfTheFingerprint) {
  auto with = valid_spec();
  with.smtp.emplace();
  with.smtp->host = "smtp.example.org";
  const auto a = normalise(valid_spec(), 0).value();
  const auto b = normalise(with, 0).value();
  EXPECT_NE(fingerprint(a), fingerprint(b));
  EXPECT_EQ(first_difference(a, b), "spec.smtp (unset vs set)");
  auto other_port = with;
  other_port.smtp->port = 2525;
  const auto c = normalise(other_port, 0).value();
  EXPECT_NE(fingerprint(b), fingerprint(c));
  EXPECT_EQ(first_difference(b, c), "spec.smtp.server.port ('465' vs '2525')");
  auto slower = with;
  slower.poll_interval = std::chrono::seconds(99);  // tuning, not identity
  EXPECT_EQ(fingerprint(b), fingerprint(normalise(slower, 0).value()));
}

TEST(session_spec_max_connections, DefaultsToOneIsBoundedAndCappedPerProvider) {
  auto spec = valid_spec();
  EXPECT_EQ(normalise(spec, 0)->max_connections, 1u);
  spec.max_connections = 4;
  EXPECT_EQ(normalise(spec, 0)->max_connections, 4u);
  spec.max_connections = 32;
  EXPECT_EQ(normalise(spec, 0)->max_connections, 32u);
  spec.max_connections = 33;
  EXPECT_NE(normalise(spec, 0).err().message.find("spec.max_connections must be between 0 and 32"), std::string::npos);

  auto gmail = valid_spec();
  gmail.host = "IMAP.Gmail.com";
  gmail.max_connections = 32;
  EXPECT_EQ(normalise(gmail, 0)->max_connections, 15u) << "Gmail allows 15 per account";
  auto office = valid_spec();
  office.host = "outlook.office365.com";
  office.max_connections = 20;
  EXPECT_EQ(normalise(office, 0)->max_connections, 16u);

  auto pop3 = valid_spec();
  pop3.proto = protocol::pop3;
  pop3.max_connections = 2;
  const auto refused = normalise(pop3, 0);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.err().code, errc::invalid_argument);
  EXPECT_NE(refused.err().message.find("spec.max_connections: only IMAP"), std::string::npos);
  pop3.max_connections = 1;
  EXPECT_TRUE(normalise(pop3, 0).ok());

  auto a = valid_spec(), b = valid_spec();
  b.max_connections = 8;  // tuning, not identity
  EXPECT_EQ(fingerprint(normalise(a, 0).value()), fingerprint(normalise(b, 0).value()));
}

TEST(session_spec_read_ahead, OffByDefaultBoundedAndImapOnly) {
  auto spec = valid_spec();
  EXPECT_EQ(normalise(spec, 0)->read_ahead_bytes, 0u);
  spec.read_ahead_bytes = 16u << 20;
  EXPECT_EQ(normalise(spec, 0)->read_ahead_bytes, 16u << 20);
  spec.read_ahead_bytes = (16u << 20) + 1;
  const auto too_much = normalise(spec, 0);
  ASSERT_FALSE(too_much.ok());
  EXPECT_EQ(too_much.err().code, errc::invalid_argument);
  EXPECT_NE(too_much.err().message.find("spec.read_ahead_bytes must be between 0 (off) and 16777216"),
            std::string::npos)
      << too_much.err().message;

  auto pop3 = valid_spec();
  pop3.proto = protocol::pop3;
  pop3.read_ahead_bytes = 1;
  const auto refused = normalise(pop3, 0);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.err().message.find("spec.read_ahead_bytes: only IMAP"), std::string::npos);

  auto a = valid_spec(), b = valid_spec();
  b.read_ahead_bytes = 1 << 20;  // tuning, not identity
  EXPECT_EQ(fingerprint(normalise(a, 0).value()), fingerprint(normalise(b, 0).value()));
}

}  // namespace
}  // namespace mailbroker::session
