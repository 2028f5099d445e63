// pop3::client against a real Dovecot: TLS (implicit and STLS) with certificate
// verification, login, and the maildrop operations checked against messages planted
// with doveadm. The suite starts its own Dovecot so that its INBOX deletions cannot
// race with the other suites' use of the shared one.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "net/tls_context.hpp"
#include "protocol/pop3/client.hpp"
#include "support/dovecot_testbed.hpp"
#include "support/mail_text.hpp"
#include "support/oauth2_testbed.hpp"

namespace mailbroker::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* user = "dave";

class Pop3Client : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dovecot_ = std::make_unique<dovecot_testbed>();
    std::ifstream in(dovecot_->state_dir() + "/testbed.env");
    for (std::string line; std::getline(in, line);) {
      auto eq = line.find('=');
      if (eq != std::string::npos) env_[line.substr(0, eq)] = line.substr(eq + 1);
    }
  }
  static void TearDownTestSuite() { dovecot_.reset(); }

  void SetUp() override {
    ASSERT_TRUE(env_.count("POP3_PORT") && env_.count("POP3S_PORT")) << "testbed.env lacks the POP3 ports";
    dir_ = dovecot_->state_dir() + "/pop3-test";
    std::filesystem::create_directories(dir_);
    empty_maildrop();
  }

  static std::uint16_t port(const char* key) { return static_cast<std::uint16_t>(std::stoi(env_.at(key))); }

  pop3::connect_options pop3s() const {
    pop3::connect_options o;
    o.host = dovecot_->host();
    o.port = port("POP3S_PORT");
    o.tls = pop3::tls_mode::implicit;
    o.timeout = 10s;
    return o;
  }
  pop3::connect_options stls() const {
    auto o = pop3s();
    o.port = port("POP3_PORT");
    o.tls = pop3::tls_mode::starttls;
    return o;
  }

  // Runs `body` with a fresh client (trusting the testbed CA, or the system store).
  template <class T>
  T run(std::function<awaitable<T>(std::shared_ptr<pop3::client>)> body, bool trust_testbed_ca = true) {
    asio::io_context io;
    auto ctx = net::make_client_tls_context({trust_testbed_ca ? dovecot_->ca_file() : std::string(), true});
    if (!ctx) {
      ADD_FAILURE() << ctx.err().message;
      return T(ctx.err());
    }
    auto c = std::make_shared<pop3::client>(io.get_executor(), *ctx);
    std::optional<T> out;
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          out = co_await body(c);
          c->close(error{errc::cancelled, "test over"});
          io.stop();
        },
        asio::detached);
    io.run_for(30s);
    if (!out) ADD_FAILURE() << "the test body did not finish";
    return out.value_or(T(error{errc::internal, "test body did not finish"}));
  }

  void deliver(const std::string& name, const std::string& bytes) {
    const std::string file = dir_ + "/" + name + ".eml";
    std::ofstream(file, std::ios::binary) << bytes;
    dovecot_->deliver(user, file);
  }

  // Logged-in client on POP3S, or the error.
  static awaitable<error> login(std::shared_ptr<pop3::client> c, pop3::connect_options o,
                                std::string password) {
    if (auto step = co_await c->open(std::move(o)); !step.ok()) co_return step;
    co_return co_await c->login(user, std::move(password));
  }

  result<std::vector<pop3::message_entry>> listing() {
    return run<result<std::vector<pop3::message_entry>>>(
        [this](auto c) -> awaitable<result<std::vector<pop3::message_entry>>> {
          if (auto step = co_await login(c, pop3s(), dovecot_->password(user)); !step.ok()) co_return step;
          auto r = co_await c->list(10s);
          co_await c->quit(5s);
          co_return r;
        });
  }

  void empty_maildrop() {
    auto e = run<error>([this](auto c) -> awaitable<error> {
      if (auto step = co_await login(c, pop3s(), dovecot_->password(user)); !step.ok()) co_return step;
      auto s = co_await c->stat(10s);
      if (!s) co_return s.err();
      for (std::uint32_t n = 1; n <= s->count; ++n) {
        if (auto step = co_await c->dele(n, 10s); !step.ok()) co_return step;
      }
      co_return co_await c->quit(10s);
    });
    ASSERT_TRUE(e.ok()) << "emptying " << user << "'s INBOX: " << e.message;
  }

  static inline std::unique_ptr<dovecot_testbed> dovecot_;
  static inline std::map<std::string, std::string> env_;
  std::string dir_;
};

const std::string small_message = crlf(
    "From: alice@example.org\nTo: dave@example.org\nSubject: Small one\nMessage-ID: <small@test>\n\nHello.\n");

TEST_F(Pop3Client, ImplicitTlsLoginVerifiesTheCertificate) {
  auto e = run<error>([this](auto c) -> awaitable<error> {
    if (auto step = co_await login(c, pop3s(), dovecot_->password(user)); !step.ok()) co_return step;
    EXPECT_TRUE(c->tls_active());
    EXPECT_TRUE(c->caps().uidl);
    EXPECT_TRUE(c->caps().top);
    if (auto step = co_await c->noop(5s); !step.ok()) co_return step;
    co_return co_await c->quit(5s);
  });
  EXPECT_TRUE(e.ok()) << e.message;

  // Without the testbed CA the same server must not verify.
  auto untrusted = run<error>([this](auto c) { return c->open(pop3s()); }, false);
  EXPECT_EQ(untrusted.code, errc::failed_precondition) << untrusted.message;
  EXPECT_NE(untrusted.message.find("did not verify"), std::string::npos) << untrusted.message;
}

TEST_F(Pop3Client, StlsLoginVerifiesTheCertificate) {
  auto e = run<error>([this](auto c) -> awaitable<error> {
    if (auto step = co_await c->open(stls()); !step.ok()) co_return step;
    EXPECT_TRUE(c->tls_active());
    EXPECT_FALSE(c->caps().stls) << "CAPA was asked again over TLS";
    if (auto step = co_await c->login(user, dovecot_->password(user)); !step.ok()) co_return step;
    auto s = co_await c->stat(5s);
    if (!s) co_return s.err();
    co_return co_await c->quit(5s);
  });
  EXPECT_TRUE(e.ok()) << e.message;

  auto wrong_name = stls();
  wrong_name.tls_server_name = "not-the-testbed.example";
  auto mismatch = run<error>([&](auto c) { return c->open(wrong_name); });
  EXPECT_EQ(mismatch.code, errc::failed_precondition) << mismatch.message;
}

TEST_F(Pop3Client, WrongPasswordIsUnauthenticated) {
  auto e = run<error>([this](auto c) { return login(c, pop3s(), "wrong-password-42"); });
  EXPECT_EQ(e.code, errc::unauthenticated) << e.message;
  EXPECT_NE(e.message.find("dave"), std::string::npos) << e.message;
  EXPECT_EQ(e.message.find("wrong-password-42"), std::string::npos) << e.message;
}

TEST_F(Pop3Client, StatListAndUidlAgreeWithTheDeliveredMessages) {
  const std::vector<std::string> messages = {
      small_message,
      crlf("From: bob@example.org\nSubject: Medium\n\n" + std::string(3000, 'm') + "\n"),
      crlf("From: carol@example.org\nSubject: Third\n\nline 1\nline 2\n"),
  };
  for (std::size_t i = 0; i < messages.size(); ++i) deliver("m" + std::to_string(i), messages[i]);

  std::vector<pop3::message_entry> entries;
  auto e = run<error>([&](auto c) -> awaitable<error> {
    if (auto step = co_await login(c, pop3s(), dovecot_->password(user)); !step.ok()) co_return step;
    auto s = co_await c->stat(5s);
    if (!s) co_return s.err();
    EXPECT_EQ(s->count, messages.size());
    std::uint64_t total = 0;
    for (const auto& m : messages) total += m.size();
    EXPECT_EQ(s->size, total);
    auto l = co_await c->list(5s);
    if (!l) co_return l.err();
    entries = *l;
    co_return co_await c->quit(5s);
  });
  ASSERT_TRUE(e.ok()) << e.message;
  ASSERT_EQ(entries.size(), messages.size());
  std::set<std::string> uids;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i].number, i + 1);
    EXPECT_EQ(entries[i].size, messages[i].size()) << "message " << i + 1;
    EXPECT_FALSE(entries[i].unique_id.empty());
    uids.insert(entries[i].unique_id);
  }
  EXPECT_EQ(uids.size(), entries.size()) << "unique ids are unique";

  // Unique ids are stable across connections.
  auto again = listing();
  ASSERT_TRUE(again.ok()) << again.err().message;
  EXPECT_EQ(*again, entries);
}

TEST_F(Pop3Client, RetrBytesEqualTheDeliveredFile) {
  std::string body;
  for (int i = 0; i < 4000; ++i) {
    body += (i % 5 == 0 ? "." : "") + std::string("line ") + std::to_string(i) + " " + std::string(60, 'a' + i % 26) + "\n";
  }
  const std::string tricky = crlf("From: alice@example.org\nSubject: Dots\n\n.\n..\n.x\nlast\n\n" + body);
  deliver("tricky", tricky);

  std::string got;
  std::size_t chunks = 0;
  auto e = run<error>([&](auto c) -> awaitable<error> {
    if (auto step = co_await login(c, pop3s(), dovecot_->password(user)); !step.ok()) co_return step;
    std::function<error(std::string_view)> sink = [&](std::string_view bytes) {
      got.append(bytes);
      ++chunks;
      return error::none();
    };
    if (auto step = co_await c->retrieve(1, std::move(sink), 10s); !step.ok()) co_return step;
    std::function<error(std::string_view)> ignore = [](std::string_view) { return error::none(); };
    auto missing = co_await c->retrieve(99, std::move(ignore), 5s);
    EXPECT_EQ(missing.code, errc::not_found) << missing.message;
    co_return co_await c->quit(5s);
  });
  ASSERT_TRUE(e.ok()) << e.message;
  EXPECT_EQ(got.size(), tricky.size());
  EXPECT_TRUE(got == tricky) << "RETR bytes differ from the delivered file";
  EXPECT_GT(chunks, 1u);
}

TEST_F(Pop3Client, TopZeroReturnsTheHeadersOnly) {
  deliver("small", small_message);
  auto r = run<result<std::string>>([this](auto c) -> awaitable<result<std::string>> {
    if (auto step = co_await login(c, pop3s(), dovecot_->password(user)); !step.ok()) co_return step;
    auto top = co_await c->top(1, 0, 5s);
    co_await c->quit(5s);
    co_return top;
  });
  ASSERT_TRUE(r.ok()) << r.err().message;
  const std::string headers = small_message.substr(0, small_message.find("\r\n\r\n") + 4);
  EXPECT_EQ(*r, headers);
}

TEST_F(Pop3Client, DeleThenQuitCommits) {
  deliver("a", small_message);
  deliver("b", crlf("Subject: keep me\n\nkept\n"));
  auto before = listing();
  ASSERT_TRUE(before.ok()) << before.err().message;
  ASSERT_EQ(before->size(), 2u);

  auto e = run<error>([this](auto c) -> awaitable<error> {
    if (auto step = co_await login(c, pop3s(), dovecot_->password(user)); !step.ok()) co_return step;
    if (auto step = co_await c->dele(1, 5s); !step.ok()) co_return step;
    auto again = co_await c->dele(1, 5s);
    EXPECT_EQ(again.code, errc::not_found) << again.message;
    co_return co_await c->quit(5s);
  });
  ASSERT_TRUE(e.ok()) << e.message;

  auto after = listing();
  ASSERT_TRUE(after.ok()) << after.err().message;
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ(after->front().unique_id, before->at(1).unique_id);
}

TEST_F(Pop3Client, DeleThenDropDoesNotCommit) {
  deliver("a", small_message);
  auto before = listing();
  ASSERT_TRUE(before.ok()) << before.err().message;
  ASSERT_EQ(before->size(), 1u);

  auto e = run<error>([this](auto c) -> awaitable<error> {
    if (auto step = co_await login(c, pop3s(), dovecot_->password(user)); !step.ok()) co_return step;
    co_return co_await c->dele(1, 5s);  // run() then close()s without QUIT
  });
  ASSERT_TRUE(e.ok()) << e.message;

  auto after = listing();
  ASSERT_TRUE(after.ok()) << after.err().message;
  EXPECT_EQ(*after, *before);
}


// OAUTHBEARER against the Dovecot of the shared authorization server (oidc-provider,
// token introspection). Only logs in: the maildrop of that Dovecot is left alone.
class Pop3ClientOAuth : public ::testing::Test {
 protected:
  static std::string fetch_token() {
    auto& o = shared_oauth2();
    const std::string out = run_command(
        "curl -sS --fail --cacert '" + o.env("OAUTH2_CA_FILE") + "' -u '" + o.env("OAUTH2_CC_CLIENT_ID") + ":" +
        o.env("OAUTH2_CC_CLIENT_SECRET") + "' -d grant_type=client_credentials -d scope=" + o.env("OAUTH2_SCOPE") +
        " '" + o.env("OAUTH2_TOKEN_URL") + "'");
    return nlohmann::json::parse(out).at("access_token").get<std::string>();
  }

  result<std::string> authenticate(std::string token) {
    auto& o = shared_oauth2();
    asio::io_context io;
    auto ctx = net::make_client_tls_context({o.dovecot().ca_file(), true});
    if (!ctx) return ctx.err();
    auto c = std::make_shared<pop3::client>(io.get_executor(), *ctx);
    pop3::connect_options opts;
    opts.host = o.dovecot().host();
    std::ifstream in(o.dovecot().state_dir() + "/testbed.env");
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("POP3S_PORT=", 0) == 0) opts.port = static_cast<std::uint16_t>(std::stoi(line.substr(11)));
    }
    opts.timeout = 10s;
    std::optional<result<std::string>> out;
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          if (auto e = co_await c->open(opts); !e.ok()) {
            out = e;
          } else {
            auto r = co_await c->authenticate_oauth(o.env("OAUTH2_CC_MAIL_USER"), token);
            if (r.ok()) {
              if (auto s = co_await c->stat(5s); !s.ok()) r = s.err();
            }
            out = r;
          }
          c->close(error{errc::cancelled, "test over"});
          io.stop();
        },
        asio::detached);
    io.run_for(30s);
    if (!out) return error{errc::internal, "test body did not finish"};
    return *out;
  }
};

TEST_F(Pop3ClientOAuth, FetchedTokenLogsInWithOauthbearer) {
  auto r = authenticate(fetch_token());
  ASSERT_TRUE(r.ok()) << r.err().message;
  EXPECT_EQ(*r, "OAUTHBEARER");
}

TEST_F(Pop3ClientOAuth, BogusTokenIsUnauthenticatedWithTheServersReason) {
  const std::string token = "bogus-token-" + std::to_string(::getpid());
  auto r = authenticate(token);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unauthenticated) << r.err().message;
  EXPECT_NE(r.err().message.find("OAUTHBEARER"), std::string::npos) << r.err().message;
  EXPECT_NE(r.err().message.find("status"), std::string::npos) << "the decoded error challenge: " << r.err().message;
  EXPECT_EQ(r.err().message.find(token), std::string::npos) << r.err().message;
}

}  // namespace
}  // namespace mailbroker::testing
