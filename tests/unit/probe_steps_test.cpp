// session/probe_steps: connection traces (made up here) become named, timed steps; a
// failure lands in the phase it happened in, with the fix for that phase.
#include "session/probe_steps.hpp"

#include <gtest/gtest.h>

namespace mailbroker::session {
namespace {

using std::chrono::microseconds;
using time_point = std::chrono::steady_clock::time_point;

time_point at(int us) { return time_point{} + microseconds(1000000 + us); }

bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

std::vector<std::string> names(const std::vector<probe_step>& steps) {
  std::vector<std::string> out;
  for (const auto& s : steps) out.push_back(s.name);
  return out;
}

// A connection that got through every phase: resolved at 10, connected at 30, TLS from
// 30 to 70 (implicit) and first bytes at 75.
net::connection_trace full_trace(tls_mode mode) {
  net::connection_trace t;
  t.started = at(0);
  t.resolved = at(10);
  t.addresses = {"192.0.2.1", "192.0.2.2"};
  t.address_count = 5;
  t.connected = at(30);
  t.endpoint = "192.0.2.1:993";
  t.tls.version = "TLSv1.3";
  t.tls.subject = "CN=mail.example.org";
  t.tls.issuer = "CN=Example CA";
  t.tls.not_after = "2027-01-05";
  if (mode == tls_mode::implicit) {
    t.tls_started = at(30);
    t.tls_done = at(70);
    t.first_byte = at(75);
  } else if (mode == tls_mode::starttls) {
    t.first_byte = at(40);  // the greeting, in clear
    t.tls_started = at(60);
    t.tls_done = at(90);
  } else {
    t.first_byte = at(40);
  }
  return t;
}

open_observation observed(tls_mode mode, int finished_us, error result = error::none()) {
  open_observation o;
  o.tls = mode;
  o.finished = at(finished_us);
  o.result = std::move(result);
  o.greeted = true;
  o.greeting = "Dovecot ready.";
  o.capabilities = "IMAP4rev1 AUTH=PLAIN";
  return o;
}

TEST(ProbeSteps, ImplicitTlsWithCapabilitiesInTheGreeting) {
  auto o = observed(tls_mode::implicit, 80);
  o.capability_exchange = false;
  std::vector<probe_step> steps;
  EXPECT_TRUE(add_open_steps(full_trace(tls_mode::implicit), o, steps));
  ASSERT_EQ(names(steps), (std::vector<std::string>{"dns", "tcp", "tls", "greeting"}));
  EXPECT_EQ(steps[0].duration, microseconds(10));
  EXPECT_EQ(steps[0].detail, "192.0.2.1, 192.0.2.2 (+3 more)");
  EXPECT_EQ(steps[1].duration, microseconds(20));
  EXPECT_EQ(steps[1].detail, "192.0.2.1:993");
  EXPECT_EQ(steps[2].duration, microseconds(40));
  EXPECT_EQ(steps[2].detail, "TLSv1.3, CN=mail.example.org, issuer CN=Example CA, expires 2027-01-05");
  EXPECT_EQ(steps[3].duration, microseconds(10));  // to the end of open(): the greeting carried them
  EXPECT_EQ(steps[3].detail, "Dovecot ready.; capabilities: IMAP4rev1 AUTH=PLAIN");
  for (const auto& s : steps) EXPECT_TRUE(s.ok && s.fix.empty()) << s.name;
}

TEST(ProbeSteps, StartTlsSplitsGreetingHandshakeAndCapabilities) {
  std::vector<probe_step> steps;
  EXPECT_TRUE(add_open_steps(full_trace(tls_mode::starttls), observed(tls_mode::starttls, 100), steps));
  ASSERT_EQ(names(steps), (std::vector<std::string>{"dns", "tcp", "greeting", "starttls", "capabilities"}));
  EXPECT_EQ(steps[2].duration, microseconds(10));  // connected 30 → first byte 40
  EXPECT_EQ(steps[3].duration, microseconds(50));  // → handshake done at 90
  EXPECT_TRUE(contains(steps[3].detail, "TLSv1.3"));
  EXPECT_EQ(steps[4].duration, microseconds(10));
  EXPECT_EQ(steps[4].detail, "IMAP4rev1 AUTH=PLAIN");
}

TEST(ProbeSteps, PlainWithACapabilityCommandAndTheSmtpPrefix) {
  auto o = observed(tls_mode::plain, 55);
  o.prefix = "smtp.";
  o.capability_step = "ehlo";
  std::vector<probe_step> steps;
  EXPECT_TRUE(add_open_steps(full_trace(tls_mode::plain), o, steps));
  EXPECT_EQ(names(steps), (std::vector<std::string>{"smtp.dns", "smtp.tcp", "smtp.greeting", "smtp.ehlo"}));
  EXPECT_EQ(steps[3].duration, microseconds(15));
}

TEST(ProbeSteps, EachFailureLandsInItsPhaseWithItsFix) {
  struct scenario {
    const char* what;
    net::connection_trace trace;
    open_observation o;
    std::vector<std::string> steps;
    std::string fix_part;
  };
  auto unresolved = full_trace(tls_mode::implicit);
  unresolved.resolved.reset();
  auto refused = full_trace(tls_mode::implicit);
  refused.connected.reset();
  auto untrusted = full_trace(tls_mode::implicit);
  untrusted.tls_done.reset();
  untrusted.tls.version.clear();
  auto no_greeting = full_trace(tls_mode::implicit);
  no_greeting.first_byte.reset();
  auto not_offered = full_trace(tls_mode::starttls);
  not_offered.tls_started.reset();
  not_offered.tls_done.reset();

  auto failed = [](tls_mode mode, errc code, std::string message, bool greeted = true) {
    auto o = observed(mode, 200, error{code, std::move(message)});
    o.greeted = greeted;
    if (!greeted) o.greeting.clear();
    return o;
  };
  std::vector<scenario> cases = {
      {"unknown host", unresolved, failed(tls_mode::implicit, errc::unavailable, "cannot resolve", false), {"dns"},
       "check the host name"},
      {"refused", refused, failed(tls_mode::implicit, errc::unavailable, "cannot connect", false), {"dns", "tcp"},
       "check the port"},
      {"untrusted", untrusted,
       failed(tls_mode::implicit, errc::failed_precondition, "TLS certificate of 'x' did not verify", false),
       {"dns", "tcp", "tls"}, "pass --ca-file"},
      {"wrong TLS mode", untrusted, failed(tls_mode::implicit, errc::unavailable, "TLS handshake failed", false),
       {"dns", "tcp", "tls"}, "check the TLS mode"},
      {"silent server", no_greeting, failed(tls_mode::implicit, errc::unavailable, "no complete handshake", false),
       {"dns", "tcp", "tls", "greeting"}, "did not greet"},
      {"STARTTLS not offered", not_offered, failed(tls_mode::starttls, errc::failed_precondition, "does not offer"),
       {"dns", "tcp", "greeting", "starttls"}, "use implicit TLS"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    std::vector<probe_step> steps;
    EXPECT_FALSE(add_open_steps(c.trace, c.o, steps));
    EXPECT_EQ(names(steps), c.steps);
    ASSERT_FALSE(steps.empty());
    EXPECT_FALSE(steps.back().ok);
    EXPECT_EQ(steps.back().failure.message, c.o.result.message);
    EXPECT_TRUE(contains(steps.back().fix, c.fix_part)) << steps.back().fix;
    for (std::size_t i = 0; i + 1 < steps.size(); ++i) EXPECT_TRUE(steps[i].ok) << steps[i].name;
  }
}

TEST(ProbeSteps, FixesNameTheSmtpLegsFlags) {
  const error untrusted{errc::failed_precondition, "TLS certificate of 'x' did not verify: unable to get issuer"};
  EXPECT_TRUE(contains(fix_for("tls", untrusted, true), "--smtp-ca-file"));
  EXPECT_TRUE(contains(fix_for("tls", untrusted, false), "--ca-file"));
  EXPECT_FALSE(contains(fix_for("tls", untrusted, false), "--smtp"));
  EXPECT_TRUE(contains(fix_for("auth", error{errc::unauthenticated, "NO"}, true), "--smtp-user"));
  EXPECT_TRUE(contains(fix_for("auth", error{errc::unauthenticated, "NO"}, false), "refused the credentials"));
  EXPECT_TRUE(contains(fix_for("tcp", error{errc::resource_exhausted, "EMFILE"}, false), "LimitNOFILE"));
}

TEST(ProbeSteps, ServerTextInDetailsIsCleanedAndCut) {
  auto o = observed(tls_mode::plain, 55);
  o.greeting = "evil\x1b[2J greeting " + std::string(1000, 'x');
  std::vector<probe_step> steps;
  EXPECT_TRUE(add_open_steps(full_trace(tls_mode::plain), o, steps));
  const auto& greeting = steps[2];
  EXPECT_EQ(greeting.name, "greeting");
  EXPECT_EQ(greeting.detail.find('\x1b'), std::string::npos);
  EXPECT_LE(greeting.detail.size(), max_step_detail);
}

}  // namespace
}  // namespace mailbroker::session
