#include "trust/secret_destinations.hpp"

#include <gtest/gtest.h>

namespace mailbroker::trust {
namespace {

using session::auth_method;
using session::session_spec;
using session::tls_mode;
using S = secrets::secret_ref::source;

session_spec basic(S kind, std::string name) {
  session_spec s;
  s.host = "IMAP.Corp.Example";
  s.port = 993;
  s.auth = auth_method::basic;
  s.username = "u";
  s.password = {kind, std::move(name)};
  return s;
}

TEST(SecretDestinations, InlinePasswordsAreTheCallersOwn) {
  EXPECT_TRUE(secret_uses(basic(S::inline_value, "pw")).empty());
}

TEST(SecretDestinations, VaultPasswordGoesToTheMailServerAndTheSmtpLegReusingIt) {
  auto spec = basic(S::vault, "imap-pw");
  spec.smtp = session::smtp_leg{};
  spec.smtp->host = "smtp.corp.example";
  spec.smtp->tls = tls_mode::starttls;
  const auto uses = secret_uses(spec);
  ASSERT_EQ(uses.size(), 2u);
  EXPECT_EQ(uses[0].ref(), "vault:imap-pw");
  EXPECT_EQ(uses[0].field, "spec.auth.basic.password");
  EXPECT_EQ(uses[0].destination(), "imap.corp.example:993");
  EXPECT_EQ(uses[1].destination(), "smtp.corp.example:587");
}

TEST(SecretDestinations, PlaintextAndSkipVerifyAreReported) {
  auto spec = basic(S::env, "PW");
  spec.tls = tls_mode::plain;
  spec.port = 143;
  auto uses = secret_uses(spec);
  ASSERT_EQ(uses.size(), 1u);
  EXPECT_TRUE(uses[0].plaintext);
  spec = basic(S::file, "/etc/shadow");
  spec.insecure_skip_verify = true;
  uses = secret_uses(spec);
  ASSERT_EQ(uses.size(), 1u);
  EXPECT_TRUE(uses[0].skip_verify);
  EXPECT_EQ(uses[0].ref(), "file:/etc/shadow");
}

TEST(SecretDestinations, ClientSecretGoesToTheTokenEndpointAndItsTokenToTheMailServer) {
  session_spec spec;
  spec.host = "outlook.office365.com";
  spec.port = 993;
  spec.auth = auth_method::oauth2_client_credentials;
  spec.oauth2.client_secret = {S::vault, "app"};
  spec.oauth2.token_url = "https://login.microsoftonline.com/t/oauth2/v2.0/token";
  const auto uses = secret_uses(spec);
  ASSERT_EQ(uses.size(), 2u);
  EXPECT_EQ(uses[0].destination(), "outlook.office365.com:993");
  EXPECT_EQ(uses[1].destination(), "login.microsoftonline.com:443");
  EXPECT_FALSE(uses[1].plaintext);
}

TEST(SecretDestinations, PasswordGrantSendsPasswordAndSecretToTheTokenEndpointAndItsTokenToTheMailServer) {
  session_spec spec;
  spec.host = "outlook.office365.com";
  spec.port = 993;
  spec.auth = auth_method::oauth2_password;
  spec.username = "alice@contoso.com";
  spec.password = {S::vault, "alice-pw"};
  spec.oauth2.client_secret = {S::env, "APP_SECRET"};
  spec.oauth2.token_url = "https://login.microsoftonline.com/t/oauth2/v2.0/token";
  const auto uses = secret_uses(spec);
  ASSERT_EQ(uses.size(), 4u);
  EXPECT_EQ(uses[0].ref(), "env:APP_SECRET");
  EXPECT_EQ(uses[0].field, "spec.auth.oauth2_password.client_secret");
  EXPECT_EQ(uses[0].destination(), "outlook.office365.com:993");
  EXPECT_EQ(uses[1].destination(), "login.microsoftonline.com:443");
  EXPECT_EQ(uses[2].ref(), "vault:alice-pw");
  EXPECT_EQ(uses[2].field, "spec.auth.oauth2_password.password");
  EXPECT_EQ(uses[2].destination(), "outlook.office365.com:993");
  EXPECT_EQ(uses[3].destination(), "login.microsoftonline.com:443");

  // An inline password is the caller's own, as with basic auth.
  spec.password = {S::inline_value, "pw"};
  spec.oauth2.client_secret = {};
  EXPECT_TRUE(secret_uses(spec).empty());
}

TEST(SecretDestinations, ManagedConnectionsAndOwnSmtpPasswords) {
  session_spec spec;
  spec.host = "imap.gmail.com";
  spec.port = 993;
  spec.auth = auth_method::oauth2_managed;
  spec.oauth2.connection = "google";
  spec.smtp = session::smtp_leg{};
  spec.smtp->host = "smtp.example";
  spec.smtp->own_credentials = true;
  spec.smtp->password = {S::vault, "smtp-pw"};
  const auto uses = secret_uses(spec);
  ASSERT_EQ(uses.size(), 2u);
  EXPECT_EQ(uses[0].ref(), "oauth2-connection:google");
  EXPECT_EQ(uses[0].destination(), "imap.gmail.com:993");
  EXPECT_EQ(uses[1].ref(), "vault:smtp-pw");
  EXPECT_EQ(uses[1].field, "spec.smtp.password");
  EXPECT_EQ(uses[1].destination(), "smtp.example:465");
}

TEST(SecretDestinations, AllowedHostPatterns) {
  const std::vector<std::string> allowed = {"imap.corp.example:993", "*.mail.example", "[::1]:143"};
  EXPECT_TRUE(destination_allowed(allowed, "IMAP.corp.example", 993));
  EXPECT_FALSE(destination_allowed(allowed, "imap.corp.example", 143)) << "port bound";
  EXPECT_TRUE(destination_allowed(allowed, "a.mail.example", 1));
  EXPECT_FALSE(destination_allowed(allowed, "mail.example", 1));
  EXPECT_FALSE(destination_allowed(allowed, "evil.example", 993));
  EXPECT_TRUE(destination_allowed(allowed, "::1", 143));
  EXPECT_FALSE(destination_allowed(allowed, "", 993));
  EXPECT_FALSE(destination_allowed({}, "imap.corp.example", 993));
  EXPECT_TRUE(check_allowed_host("h:1", "f").ok());
  EXPECT_FALSE(check_allowed_host("h:0", "f").ok());
  EXPECT_FALSE(check_allowed_host("::1", "f").ok()) << "IPv6 needs brackets";
  EXPECT_FALSE(check_allowed_host("a b", "f").ok());
  EXPECT_FALSE(check_allowed_host("", "f").ok());
}

}  // namespace
}  // namespace mailbroker::trust
