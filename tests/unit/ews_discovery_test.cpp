// session/ews_discovery: the decisions made before any request (fail closed without a
// destination check, the remembered URL re-checked on every connect, the test hook).
// Discovery over the network is covered by tests/integration/ews_autodiscover_*_test.cpp.
#include "session/ews_discovery.hpp"

#include <gtest/gtest.h>

#include <optional>

#include "net/http_authenticators.hpp"
#include "net/tls_context.hpp"

namespace mailbroker::session {
namespace {

session_spec autodiscover_spec(secrets::secret_ref password) {
  session_spec s;
  s.proto = protocol::ews;
  s.auth = auth_method::basic;
  s.username = "alice";
  s.password = std::move(password);
  s.ews.emplace();
  s.ews->autodiscover_email = "alice@example.test";
  auto n = normalise(s, 0);
  EXPECT_TRUE(n.ok()) << n.err().message;
  return n.value();
}

secrets::secret_ref ref(secrets::secret_ref::source kind, std::string value) {
  secrets::secret_ref r;
  r.kind = kind;
  r.value = std::move(value);
  return r;
}

struct run_result {
  result<ews_endpoint> found = error{errc::internal, "did not finish"};
  int authenticators_made = 0;
};

run_result run(const session_spec& spec, ews_discovery_hooks hooks, bool rediscover = false) {
  asio::io_context io;
  run_result out;
  auto tls = net::make_client_tls_context({"", true});
  EXPECT_TRUE(tls.ok());
  authenticator_factory make = [&out] {
    ++out.authenticators_made;
    return net::make_basic_authenticator("alice", "pw");
  };
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        out.found = co_await find_ews_endpoint(spec, tls.value(), make, hooks, rediscover);
      },
      asio::detached);
  io.run_for(std::chrono::seconds(20));
  return out;
}

TEST(ews_discovery, ADaemonSideSecretWithoutADestinationCheckIsRefusedBeforeAnyRequest) {
  using S = secrets::secret_ref::source;
  for (const auto& password : {ref(S::vault, "alice"), ref(S::env, "MB_PW"), ref(S::file, "/run/pw")}) {
    auto r = run(autodiscover_spec(password), {});
    ASSERT_FALSE(r.found.ok());
    EXPECT_EQ(r.found.err().code, errc::permission_denied);
    EXPECT_NE(r.found.err().message.find("no destination check"), std::string::npos) << r.found.err().message;
    EXPECT_EQ(r.authenticators_made, 0);
  }
  EXPECT_TRUE(sends_daemon_side_secret(autodiscover_spec(ref(S::vault, "alice"))));
  EXPECT_FALSE(sends_daemon_side_secret(autodiscover_spec(ref(S::inline_value, "pw"))));
}

TEST(ews_discovery, TheRememberedUrlIsCheckedAgainOnEveryConnect) {
  const auto spec = autodiscover_spec(ref(secrets::secret_ref::source::vault, "alice"));
  ews_discovery_hooks hooks;
  hooks.found = std::make_shared<ews_found_endpoint>();
  hooks.found->url = "https://mail.example.test:8443/EWS/Exchange.asmx";
  std::vector<std::string> asked;
  bool allow = true;
  hooks.check_destination = [&](const std::string& host, std::uint16_t port) {
    asked.push_back(host + ":" + std::to_string(port));
    return allow ? error::none() : error{errc::permission_denied, "vault:alice may not be sent to " + host};
  };
  auto connect_to = std::make_shared<connect_overrides>();
  connect_to->push_back({"mail.example.test", 8443, "127.0.0.1", 9443});
  hooks.connect_to = connect_to;

  auto ok = run(spec, hooks);
  ASSERT_TRUE(ok.found.ok()) << ok.found.err().message;
  EXPECT_FALSE(ok.found->discovered_now);
  EXPECT_EQ(ok.found->url, hooks.found->url);
  EXPECT_EQ(ok.found->endpoint.host, "mail.example.test");
  EXPECT_EQ(ok.found->endpoint.port, 8443);
  EXPECT_EQ(ok.found->path, "/EWS/Exchange.asmx");
  EXPECT_EQ(ok.found->connect_host, "127.0.0.1");
  EXPECT_EQ(ok.found->connect_port, 9443);
  EXPECT_EQ(asked, std::vector<std::string>{"mail.example.test:8443"});
  EXPECT_EQ(ok.authenticators_made, 0) << "no Autodiscover request: the URL was remembered";

  allow = false;  // the daemon's rules were reloaded
  auto refused = run(spec, hooks);
  ASSERT_FALSE(refused.found.ok());
  EXPECT_EQ(refused.found.err().code, errc::permission_denied);
  EXPECT_NE(refused.found.err().message.find("found https://mail.example.test:8443/EWS/Exchange.asmx, but vault:alice "
                                             "may not be sent to mail.example.test"),
            std::string::npos)
      << refused.found.err().message;
}

TEST(ews_discovery, ARefusedAutodiscoverHostGetsNoRequest) {
  const auto spec = autodiscover_spec(ref(secrets::secret_ref::source::vault, "alice"));
  ews_discovery_hooks hooks;
  hooks.found = std::make_shared<ews_found_endpoint>();
  std::vector<std::string> asked;
  hooks.check_destination = [&](const std::string& host, std::uint16_t port) {
    asked.push_back(host + ":" + std::to_string(port));
    return error{errc::permission_denied, "vault:alice may not be sent to " + host};
  };
  auto r = run(spec, hooks);
  ASSERT_FALSE(r.found.ok());
  EXPECT_EQ(r.found.err().code, errc::permission_denied) << r.found.err().message;
  EXPECT_EQ(asked, (std::vector<std::string>{"example.test:443", "autodiscover.example.test:443"}));
  EXPECT_EQ(r.authenticators_made, 0) << "no credentials were made for a refused host";
  EXPECT_NE(r.found.err().message.find("vault:alice may not be sent to autodiscover.example.test"), std::string::npos)
      << r.found.err().message;
  EXPECT_TRUE(hooks.found->url.empty());
}

TEST(ews_discovery, ASpecWithAUrlIsNotDiscovered) {
  session_spec s;
  s.proto = protocol::ews;
  s.auth = auth_method::basic;
  s.username = "alice";
  s.password = ref(secrets::secret_ref::source::inline_value, "pw");
  s.ews.emplace();
  s.ews->url = "https://mail.example.test/EWS/Exchange.asmx";
  auto n = normalise(s, 0);
  ASSERT_TRUE(n.ok());
  EXPECT_FALSE(uses_autodiscover(n.value()));
  EXPECT_EQ(run(n.value(), {}).found.err().code, errc::invalid_argument);
}

}  // namespace
}  // namespace mailbroker::session
