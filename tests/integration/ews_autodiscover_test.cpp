// ews::discover_ews_url against the fake EWS server (scripts/testbed/ews): its POX
// Autodiscover with NTLM and Basic, the EWS host check on the fake's real answers, its
// redirect loop and refused credentials. The fake's certificate names testlab.test,
// autodiscover.testlab.test and exch01.testlab.test; connect_to sends those names to
// the fake's loopback port (as curl --resolve would) and TLS checks the names.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "auth/ntlm_authenticator.hpp"
#include "net/http_authenticators.hpp"
#include "net/tls_context.hpp"
#include "protocol/ews/autodiscover_client.hpp"
#include "support/ews_testbed.hpp"

namespace mailbroker::testing {
namespace {

using namespace std::chrono_literals;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::uint16_t port_of(const std::string& url) {  // "https://127.0.0.1:PORT/..."
  const auto colon = url.find(':', 8);
  return static_cast<std::uint16_t>(std::stoi(url.substr(colon + 1)));
}

ews::discovery_options options_for(const ews_testbed& fake, const std::string& scheme, const std::string& user,
                                   const std::string& password) {
  ews::discovery_options o;
  auto tls = net::make_client_tls_context({fake.ca_file(), true});
  EXPECT_TRUE(tls.ok()) << tls.err().message;
  o.tls = tls.ok() ? tls.value() : nullptr;
  o.connect_timeout = 5s;
  o.request_timeout = 10s;
  o.total_timeout = 30s;
  const std::string domain = fake.domain();
  o.authenticator = [=](const net::http_endpoint&) -> result<std::shared_ptr<net::http_authenticator>> {
    if (scheme == "ntlm") {
      return std::shared_ptr<net::http_authenticator>(
          std::make_shared<auth::ntlm_authenticator>(auth::ntlm_credentials{user, domain, password, "BOT01"}));
    }
    return net::make_basic_authenticator(domain + "\\" + user, password);
  };
  const std::uint16_t port = port_of(fake.autodiscover_url());
  o.connect_to = [port](const std::string& host, std::uint16_t wanted) -> std::optional<net::http_endpoint> {
    if (host == "testlab.test" || host == "autodiscover.testlab.test" || host == "exch01.testlab.test") {
      return net::http_endpoint{true, "127.0.0.1", wanted == 443 ? port : wanted};
    }
    return std::nullopt;
  };
  return o;
}

result<ews::discovery> discover(std::string email, ews::discovery_options options) {
  asio::io_context io;
  std::optional<result<ews::discovery>> out;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        out.emplace(co_await ews::discover_ews_url(std::move(email), std::move(options)));
      },
      asio::detached);
  io.run_for(60s);
  if (!out) return error{errc::internal, "discover_ews_url did not finish"};
  return std::move(*out);
}

TEST(EwsAutodiscoverFake, FindsTheEwsUrlWithNtlmAndBasic) {
  ews_testbed fake("MB_EWS_PUBLIC_HOST=exch01.testlab.test ");
  const std::string expected = "https://exch01.testlab.test:" + std::to_string(port_of(fake.ews_url())) +
                               "/EWS/Exchange.asmx";
  for (const std::string scheme : {"ntlm", "basic"}) {
    auto found = discover(fake.address("alice"), options_for(fake, scheme, "alice", fake.password("alice")));
    ASSERT_TRUE(found.ok()) << scheme << ": " << found.err().message;
    EXPECT_EQ(found->ews_url, expected);
    ASSERT_EQ(found->tried.size(), 1u);
    EXPECT_TRUE(contains(found->tried[0], "https://testlab.test/autodiscover/autodiscover.xml: EwsUrl ")) << found->tried[0];
  }
  EXPECT_GE(fake.counters().at("ntlm_handshakes"), 1);
}

TEST(EwsAutodiscoverFake, RefusesTheFakesDefaultLoopbackEwsUrl) {
  ews_testbed fake;  // answers with https://127.0.0.1:PORT/EWS/Exchange.asmx: not under testlab.test
  auto found = discover(fake.address("alice"), options_for(fake, "basic", "alice", fake.password("alice")));
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.err().code, errc::failed_precondition);
  EXPECT_TRUE(contains(found.err().message, "the EWS host 127.0.0.1")) << found.err().message;
  EXPECT_TRUE(contains(found.err().message, "spec.ews.url")) << found.err().message;
}

TEST(EwsAutodiscoverFake, RedirectAddrAndTheLoopMode) {
  ews_testbed fake("MB_EWS_PUBLIC_HOST=autodiscover.testlab.test ");
  fake.set_autodiscover("redirect_addr", fake.address("bob"));
  auto redirected = discover(fake.address("alice"), options_for(fake, "basic", "alice", fake.password("alice")));
  ASSERT_TRUE(redirected.ok()) << redirected.err().message;  // alice may open bob's folders (delegate)
  ASSERT_EQ(redirected->tried.size(), 2u);
  EXPECT_TRUE(contains(redirected->tried[0], "redirectAddr to bob@testlab.test")) << redirected->tried[0];

  fake.set_autodiscover("loop");
  auto looped = discover(fake.address("alice"), options_for(fake, "basic", "alice", fake.password("alice")));
  ASSERT_FALSE(looped.ok());
  EXPECT_EQ(looped.err().code, errc::failed_precondition);
  EXPECT_TRUE(contains(looped.err().message, "redirect loop")) << looped.err().message;
}

TEST(EwsAutodiscoverFake, AWrongPasswordIsUnauthenticated) {
  ews_testbed fake("MB_EWS_PUBLIC_HOST=exch01.testlab.test ");
  auto found = discover(fake.address("alice"), options_for(fake, "ntlm", "alice", "not-the-password"));
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.err().code, errc::unauthenticated) << found.err().message;
  EXPECT_FALSE(contains(found.err().message, "not-the-password"));
}

}  // namespace
}  // namespace mailbroker::testing
