#include "trust/policy.hpp"

#include <gtest/gtest.h>

namespace mailbroker::trust {
namespace {

principal unix_peer(std::uint32_t uid, std::uint32_t gid = 100, std::vector<std::uint32_t> groups = {}) {
  principal p;
  p.k = principal::kind::unix_peer;
  p.uid = uid;
  p.gid = gid;
  p.groups = std::move(groups);
  return p;
}

principal named(principal::kind k, std::string name) {
  principal p;
  p.k = k;
  p.name = std::move(name);
  return p;
}

policy with(std::vector<std::string> lines, std::uint32_t owner = 1000) {
  std::vector<rule> rules;
  for (const auto& l : lines) {
    auto r = parse_rule(l);
    EXPECT_TRUE(r.ok()) << l << ": " << r.err().message;
    if (r) rules.push_back(std::move(r.value()));
  }
  return policy(owner, std::move(rules));
}

TEST(TrustPolicy, OwnerAndRootMayDoEverythingOthersNothingByDefault) {
  const policy p(1000);
  EXPECT_TRUE(p.allows(unix_peer(1000), permission::admin, "any"));
  EXPECT_TRUE(p.allows(unix_peer(0), permission::vault_write, "x"));
  EXPECT_FALSE(p.allows(unix_peer(65534), permission::attach, "any"));
  EXPECT_FALSE(p.allows(named(principal::kind::certificate, "bot"), permission::read, "any"));
  EXPECT_FALSE(p.allows(named(principal::kind::anonymous_tcp, ""), permission::read, "any"));
  EXPECT_FALSE(p.allows_some(unix_peer(65534), permission::vault_list));
}

TEST(TrustPolicy, RulesGrantPermissionsOnMatchingSessionsOnly) {
  const auto p = with({"uid:1001 bot bots-*", "gid:500 read shared"});
  EXPECT_TRUE(p.allows(unix_peer(1001), permission::attach, "bots-7"));
  EXPECT_TRUE(p.allows(unix_peer(1001), permission::send, "bots-7"));
  EXPECT_FALSE(p.allows(unix_peer(1001), permission::connect, "bots-7")) << "bot does not include connect";
  EXPECT_FALSE(p.allows(unix_peer(1001), permission::admin, "bots-7"));
  EXPECT_FALSE(p.allows(unix_peer(1001), permission::attach, "other")) << "pattern must match";
  EXPECT_TRUE(p.allows(unix_peer(1002, 500), permission::read, "shared"));
  EXPECT_TRUE(p.allows(unix_peer(1002, 7, {9, 500}), permission::read, "shared")) << "supplementary group";
  EXPECT_FALSE(p.allows(unix_peer(1002, 500), permission::modify, "shared"));
}

TEST(TrustPolicy, AdminImpliesSessionPermissionsButNotVault) {
  const auto p = with({"cert:spiffe://corp/ops/* admin *"});
  const auto ops = named(principal::kind::certificate, "spiffe://corp/ops/alice");
  EXPECT_TRUE(p.allows(ops, permission::connect, "s"));
  EXPECT_TRUE(p.allows(ops, permission::plaintext, "s"));
  EXPECT_FALSE(p.allows(ops, permission::vault_write, "s"));
  EXPECT_FALSE(p.allows(named(principal::kind::certificate, "spiffe://corp/bots/x"), permission::read, "s"));
  EXPECT_FALSE(p.allows(named(principal::kind::token, "spiffe://corp/ops/alice"), permission::read, "s"))
      << "a token with the same name is not the certificate";
}

TEST(TrustPolicy, TokensMatchByExactNameAndVaultTargetsEntries) {
  const auto p = with({"token:ci vault-write,vault-list ci-*"});
  const auto ci = named(principal::kind::token, "ci");
  EXPECT_TRUE(p.allows(ci, permission::vault_write, "ci-imap"));
  EXPECT_FALSE(p.allows(ci, permission::vault_write, "prod-imap"));
  EXPECT_TRUE(p.allows_some(ci, permission::vault_list));
  EXPECT_FALSE(p.allows(named(principal::kind::token, "ci2"), permission::vault_list, "ci-imap"));
}

TEST(TrustPolicy, UnixAnyAndAnonymousTcpAreDistinct) {
  const auto p = with({"unix:any watch *", "tcp:anonymous read demo"});
  EXPECT_TRUE(p.allows(unix_peer(4242), permission::watch, "x"));
  EXPECT_FALSE(p.allows(named(principal::kind::anonymous_tcp, ""), permission::watch, "x"));
  EXPECT_TRUE(p.allows(named(principal::kind::anonymous_tcp, ""), permission::read, "demo"));
}

TEST(TrustPolicy, ParseErrorsNameTheBadPart) {
  auto r = parse_rule("uid:1 bot");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.err().message.find("PRINCIPALS PERMISSIONS TARGETS"), std::string::npos);
  r = parse_rule("uid:x bot *");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.err().message.find("not a number"), std::string::npos);
  r = parse_rule("uid:1 fly *");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.err().message.find("unknown permission 'fly'"), std::string::npos);
  EXPECT_NE(r.err().message.find("vault-write"), std::string::npos) << "lists the known ones";
  r = parse_rule("user:no-such-user-here bot *");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.err().message.find("no such user"), std::string::npos);
  r = parse_rule("root bot *");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.err().message.find("uid:N"), std::string::npos);
  EXPECT_TRUE(parse_rule("  user:root \t all  a,b* ").ok()) << "spaces and tabs between words";
}

TEST(TrustPolicy, VaultUseIsPerEntryAndNotImpliedByAdminOrBot) {
  const auto p = with({"uid:1001 admin,bot *", "uid:1001 vault-use imap-*"});
  EXPECT_TRUE(p.allows(unix_peer(1001), permission::vault_use, "imap-alice"));
  EXPECT_FALSE(p.allows(unix_peer(1001), permission::vault_use, "payroll"));
  EXPECT_TRUE(p.allows(unix_peer(1000), permission::vault_use, "payroll")) << "the daemon's own uid";
}

TEST(TrustPolicy, PrincipalIds) {
  EXPECT_EQ(unix_peer(1001).id(), "uid:1001");
  EXPECT_EQ(named(principal::kind::certificate, "bot.corp").id(), "cert:bot.corp");
  EXPECT_EQ(named(principal::kind::token, "ci").id(), "token:ci");
  EXPECT_EQ(named(principal::kind::anonymous_tcp, "").id(), "tcp:anonymous");
}

}  // namespace
}  // namespace mailbroker::trust
