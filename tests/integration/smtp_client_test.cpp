// smtp::client against a real SMTP server (smtp-server from npm, scripts/testbed/smtp.sh):
// TLS both ways with verification, AUTH, per-recipient results, and the recorded
// message compared byte for byte with what was sent, then read back by Python's
// email package.
#include <gtest/gtest.h>

#include <functional>
#include <optional>

#include "net/tls_context.hpp"
#include "protocol/smtp/client.hpp"
#include "support/smtp_testbed.hpp"

namespace mailbroker::testing {
namespace {

using namespace std::chrono_literals;

smtp_testbed& shared_smtp() {
  static smtp_testbed instance;
  return instance;
}

class SmtpClient : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ctx = net::make_client_tls_context({shared_smtp().ca_file(), true});
    ASSERT_TRUE(ctx.ok()) << ctx.err().message;
    tls_ = *ctx;
  }

  template <class T>
  T run(std::function<awaitable<T>(std::shared_ptr<smtp::client>)> body) {
    auto c = std::make_shared<smtp::client>(io_.get_executor(), tls_);
    std::optional<T> out;
    asio::co_spawn(
        io_,
        [&]() -> awaitable<void> {
          out = co_await body(c);
          co_await c->quit(2000ms);
          io_.stop();
        },
        asio::detached);
    io_.run_for(30s);
    io_.restart();
    return std::move(*out);
  }

  smtp::connect_options starttls() const {
    smtp::connect_options o;
    o.host = "127.0.0.1";
    o.port = shared_smtp().smtp_port();
    o.tls = smtp::tls_mode::starttls;
    o.timeout = 5000ms;
    return o;
  }
  smtp::connect_options implicit_tls() const {
    auto o = starttls();
    o.port = shared_smtp().smtps_port();
    o.tls = smtp::tls_mode::implicit;
    return o;
  }

  // open + login as alice + send; any failure on the way is the result.
  result<smtp::send_result> send_as_alice(smtp::connect_options options, smtp::envelope env, std::string message) {
    const std::string password = shared_smtp().password("alice");
    return run<result<smtp::send_result>>([&](auto c) -> awaitable<result<smtp::send_result>> {
      if (auto e = co_await c->open(options); !e.ok()) co_return e;
      if (auto e = co_await c->login("alice", password); !e.ok()) co_return e;
      co_return co_await c->send(env, message, 10000ms);
    });
  }

  // The messages recorded since `before` (a messages().size() taken earlier).
  static std::vector<recorded_message> new_messages(std::size_t before) {
    auto all = shared_smtp().messages();
    return {all.begin() + static_cast<std::ptrdiff_t>(std::min(before, all.size())), all.end()};
  }

  asio::io_context io_;
  std::shared_ptr<asio::ssl::context> tls_;
};

TEST_F(SmtpClient, StartTlsVerifiesAndDropsClearCapabilities) {
  struct seen {
    bool tls = false;
    bool starttls_offered = true;
    bool plain_offered = false;
    std::uint64_t size = 0;
  };
  auto r = run<result<seen>>([&](auto c) -> awaitable<result<seen>> {
    if (auto e = co_await c->open(starttls()); !e.ok()) co_return e;
    seen s;
    s.tls = c->tls_active();
    s.starttls_offered = c->capabilities().starttls;  // after TLS the server stops offering it
    s.plain_offered = c->capabilities().has_auth("PLAIN");
    s.size = c->capabilities().size.value_or(0);
    co_return s;
  });
  ASSERT_TRUE(r.ok()) << r.err().message;
  EXPECT_TRUE(r->tls);
  EXPECT_FALSE(r->starttls_offered);
  EXPECT_TRUE(r->plain_offered);
  EXPECT_EQ(r->size, 10u * 1024 * 1024);
}

TEST_F(SmtpClient, ImplicitTlsRejectsAWrongServerName) {
  auto options = implicit_tls();
  options.tls_server_name = "mail.example.com";  // the certificate is for localhost/127.0.0.1
  auto e = run<error>([&](auto c) { return c->open(options); });
  EXPECT_EQ(e.code, errc::failed_precondition) << e.message;
}

TEST_F(SmtpClient, ImplicitTlsAuthPlain) {
  const std::size_t before = shared_smtp().messages().size();
  auto r = send_as_alice(implicit_tls(), {"alice@example.test", {"bob@example.test"}},
                         "Subject: implicit\r\n\r\nhello\r\n");
  ASSERT_TRUE(r.ok()) << r.err().message;
  EXPECT_EQ(r->data_code, 250);
  auto got = new_messages(before);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].tls);
  EXPECT_EQ(got[0].user, "alice");
  EXPECT_EQ(got[0].mail_from, "alice@example.test");
  EXPECT_EQ(got[0].rcpt_to, std::vector<std::string>{"bob@example.test"});
  EXPECT_NE(r->data_text.find(got[0].id), std::string::npos) << r->data_text;
}

TEST_F(SmtpClient, AuthLoginWhenOnlyLoginIsOffered) {
  // A second server that offers LOGIN only: the client must fall back to it.
  smtp_testbed login_only({}, "MB_SMTP_AUTH_METHODS=LOGIN");
  auto ctx = net::make_client_tls_context({login_only.ca_file(), true});  // its own CA
  ASSERT_TRUE(ctx.ok()) << ctx.err().message;
  tls_ = *ctx;
  auto options = implicit_tls();
  options.port = login_only.smtps_port();
  const std::string password = login_only.password("bob");
  struct outcome {
    error login;
    std::vector<std::string> offered;
  };
  auto o = run<outcome>([&](auto c) -> awaitable<outcome> {
    outcome out;
    if (auto opened = co_await c->open(options); !opened.ok()) {
      out.login = opened;
      co_return out;
    }
    out.offered = c->capabilities().auth;
    out.login = co_await c->login("bob", password);
    co_return out;
  });
  EXPECT_TRUE(o.login.ok()) << o.login.message;
  EXPECT_EQ(o.offered, std::vector<std::string>{"LOGIN"});
  // And a wrong password through LOGIN is refused the same way.
  auto e = run<error>([&](auto c) -> awaitable<error> {
    if (auto opened = co_await c->open(options); !opened.ok()) co_return opened;
    co_return co_await c->login("bob", "wrong-password");
  });
  EXPECT_EQ(e.code, errc::unauthenticated) << e.message;
  EXPECT_NE(e.message.find("AUTH LOGIN"), std::string::npos) << e.message;
}

TEST_F(SmtpClient, WrongPasswordIsUnauthenticated) {
  auto e = run<error>([&](auto c) -> awaitable<error> {
    if (auto opened = co_await c->open(implicit_tls()); !opened.ok()) co_return opened;
    co_return co_await c->login("alice", "not-the-password");
  });
  EXPECT_EQ(e.code, errc::unauthenticated);
  EXPECT_NE(e.message.find("535"), std::string::npos) << e.message;
  EXPECT_EQ(e.message.find("not-the-password"), std::string::npos) << e.message;
}

TEST_F(SmtpClient, SendWithoutLoginIsRefusedByTheServer) {
  auto r = run<result<smtp::send_result>>([&](auto c) -> awaitable<result<smtp::send_result>> {
    if (auto e = co_await c->open(implicit_tls()); !e.ok()) co_return e;
    smtp::envelope env{"alice@example.test", {"bob@example.test"}};
    std::string message = "Subject: x\r\n\r\ny\r\n";
    co_return co_await c->send(env, message, 5000ms);
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::failed_precondition);
  EXPECT_NE(r.err().message.find("530"), std::string::npos) << r.err().message;
}

TEST_F(SmtpClient, MixedRecipientsOnlyTheAcceptedOneIsRecorded) {
  const std::size_t before = shared_smtp().messages().size();
  auto r = send_as_alice(starttls(),
                         {"alice@example.test", {"carol@example.test", "reject-me@example.test", "defer-me@example.test"}},
                         "Subject: mixed\r\n\r\nsome accepted\r\n");
  ASSERT_TRUE(r.ok()) << r.err().message;
  ASSERT_EQ(r->recipients.size(), 3u);
  EXPECT_TRUE(r->recipients[0].accepted);
  EXPECT_EQ(r->recipients[1].code, 550);
  EXPECT_EQ(r->recipients[1].enhanced_code, "5.1.1");
  EXPECT_FALSE(r->recipients[1].accepted);
  EXPECT_EQ(r->recipients[2].code, 451);
  EXPECT_EQ(r->recipients[2].enhanced_code, "4.3.0");
  auto got = new_messages(before);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].rcpt_to, std::vector<std::string>{"carol@example.test"});
  EXPECT_TRUE(got[0].tls);
}

TEST_F(SmtpClient, NoRecipientAcceptedLeavesTheConnectionUsable) {
  const std::size_t before = shared_smtp().messages().size();
  const std::string password = shared_smtp().password("alice");
  struct outcome {
    error first;
    result<smtp::send_result> second = error{};
  };
  auto o = run<outcome>([&](auto c) -> awaitable<outcome> {
    outcome out;
    if (auto e = co_await c->open(starttls()); !e.ok()) {
      out.first = e;
      co_return out;
    }
    if (auto e = co_await c->login("alice", password); !e.ok()) {
      out.first = e;
      co_return out;
    }
    smtp::envelope bad{"alice@example.test", {"reject-a@example.test", "defer-b@example.test"}};
    std::string message = "Subject: nobody\r\n\r\nx\r\n";
    auto r = co_await c->send(bad, message, 5000ms);
    out.first = r.ok() ? error::none() : r.err();
    smtp::envelope good{"alice@example.test", {"dave@example.test"}};
    std::string message2 = "Subject: after RSET\r\n\r\nx\r\n";
    out.second = co_await c->send(good, message2, 5000ms);
    co_return out;
  });
  EXPECT_EQ(o.first.code, errc::failed_precondition);
  EXPECT_NE(o.first.message.find("<reject-a@example.test> 550 5.1.1"), std::string::npos) << o.first.message;
  EXPECT_NE(o.first.message.find("<defer-b@example.test> 451 4.3.0"), std::string::npos) << o.first.message;
  ASSERT_TRUE(o.second.ok()) << o.second.err().message;
  auto got = new_messages(before);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].rcpt_to, std::vector<std::string>{"dave@example.test"});
}

TEST_F(SmtpClient, RecordedMessageEqualsWhatWasSentByteForByte) {
  const std::size_t before = shared_smtp().messages().size();
  // CRLF line ends already (the client would normalise LF), lines starting with ".",
  // a line that is just ".", one that is "..", and a body ending without a dot.
  const std::string message =
      "From: Alice <alice@example.test>\r\n"
      "To: bob@example.test\r\n"
      "Subject: dots\r\n"
      "Message-ID: <dots-1@example.test>\r\n"
      "\r\n"
      ".leading dot\r\n"
      ".\r\n"
      "..\r\n"
      "middle . line\r\n"
      ". space after dot\r\n"
      "last line\r\n";
  auto r = send_as_alice(starttls(), {"alice@example.test", {"bob@example.test"}}, message);
  ASSERT_TRUE(r.ok()) << r.err().message;
  auto got = new_messages(before);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(smtp_testbed::read_file(got[0].eml_path), message);
  EXPECT_EQ(got[0].size_param, static_cast<std::int64_t>(message.size()));
  EXPECT_EQ(got[0].body_param, "") << "7-bit message: no BODY=8BITMIME";
}

TEST_F(SmtpClient, EightBitUtf8MessageGoesWithBody8BitMimeAndParses) {
  const std::size_t before = shared_smtp().messages().size();
  const std::string body = "Gr\xc3\xbc\xc3\x9f""e aus K\xc3\xb6ln \xe2\x80\x94 \xf0\x9f\x93\xa8\r\n";
  const std::string message =
      "From: alice@example.test\r\n"
      "To: bob@example.test\r\n"
      "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n"
      "Message-ID: <utf8-1@example.test>\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: 8bit\r\n"
      "\r\n" +
      body;
  auto r = send_as_alice(implicit_tls(), {"alice@example.test", {"bob@example.test"}}, message);
  ASSERT_TRUE(r.ok()) << r.err().message;
  auto got = new_messages(before);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body_param, "8BITMIME");
  EXPECT_FALSE(got[0].smtputf8) << "ASCII addresses: no SMTPUTF8";
  EXPECT_EQ(smtp_testbed::read_file(got[0].eml_path), message);

  const auto parsed = smtp_testbed::parse_eml(got[0].eml_path);
  EXPECT_EQ(parsed["headers"]["Subject"], "Gr\xc3\xbc\xc3\x9f""e");
  EXPECT_EQ(parsed["headers"]["Message-ID"], "<utf8-1@example.test>");
  ASSERT_EQ(parsed["parts"].size(), 1u);
  EXPECT_EQ(parsed["parts"][0]["content_type"], "text/plain");
  EXPECT_EQ(parsed["parts"][0]["charset"], "utf-8");
  EXPECT_EQ(parsed["parts"][0]["text"], "Gr\xc3\xbc\xc3\x9f""e aus K\xc3\xb6ln \xe2\x80\x94 \xf0\x9f\x93\xa8\n");
  // Python's email package hands decoded 8bit text back with LF line ends.
  EXPECT_EQ(parsed["parts"][0]["length"], body.size() - 1);
}

TEST_F(SmtpClient, NonAsciiAddressUsesSmtpUtf8) {
  const std::size_t before = shared_smtp().messages().size();
  const std::string to = "j\xc3\xb6rg@example.test";
  auto r = send_as_alice(starttls(), {"alice@example.test", {to}}, "Subject: utf8 address\r\n\r\nx\r\n");
  ASSERT_TRUE(r.ok()) << r.err().message;
  auto got = new_messages(before);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].smtputf8);
  EXPECT_EQ(got[0].rcpt_to, std::vector<std::string>{to});
}

TEST_F(SmtpClient, NoopRsetAndCounters) {
  auto e = run<error>([&](auto c) -> awaitable<error> {
    if (auto opened = co_await c->open(implicit_tls()); !opened.ok()) co_return opened;
    if (auto n = co_await c->noop(2000ms); !n.ok()) co_return n;
    if (auto r = co_await c->rset(2000ms); !r.ok()) co_return r;
    EXPECT_EQ(c->commands_sent(), 3u);  // EHLO, NOOP, RSET
    EXPECT_GT(c->bytes_in(), 0u);
    EXPECT_GT(c->bytes_out(), 0u);
    co_return error::none();
  });
  EXPECT_TRUE(e.ok()) << e.message;
}

}  // namespace
}  // namespace mailbroker::testing
