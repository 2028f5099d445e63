// smtp::client against scripted servers: exact lines on the wire and the edge cases a
// real server will not produce on demand (bad greetings, drops before and after the final dot, no 8BITMIME).
#include <gtest/gtest.h>

#include <optional>

#include "common/base64.hpp"
#include "fakes/scripted_server.hpp"
#include "protocol/smtp/client.hpp"

namespace mailbroker::testing {
namespace {

using step = script_step;
using namespace std::chrono_literals;

// Greeting + EHLO answered with `ehlo_lines` (the keywords after the domain line).
std::vector<step> greeted(std::vector<std::string> ehlo_lines) {
  std::string reply = ehlo_lines.empty() ? "250 fake.test\r\n" : "250-fake.test\r\n";
  for (std::size_t i = 0; i < ehlo_lines.size(); ++i) {
    reply += (i + 1 == ehlo_lines.size() ? "250 " : "250-") + ehlo_lines[i] + "\r\n";
  }
  return {step::send("220 fake.test ESMTP ready\r\n"), step::read_line(), step::send(reply)};
}

std::vector<step> operator+(std::vector<step> a, const std::vector<step>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class SmtpClientFake : public ::testing::Test {
 protected:
  template <class T>
  T run(std::function<awaitable<T>(std::shared_ptr<smtp::client>)> body) {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    client_ = std::make_shared<smtp::client>(io_.get_executor(), ctx);
    std::optional<T> out;
    asio::co_spawn(
        io_,
        [&]() -> awaitable<void> {
          out = co_await body(client_);
          io_.stop();
        },
        asio::detached);
    io_.run_for(10s);
    return std::move(*out);
  }

  smtp::connect_options plain(std::uint16_t port, std::chrono::milliseconds timeout = 2000ms) {
    smtp::connect_options o;
    o.host = "127.0.0.1";
    o.port = port;
    o.tls = smtp::tls_mode::plain;
    o.timeout = timeout;
    o.helo_domain = "client.test";
    return o;
  }

  // open() then send(); an open() failure is returned as the send's error.
  result<smtp::send_result> open_and_send(std::uint16_t port, smtp::envelope env, std::string message) {
    return run<result<smtp::send_result>>([&](auto c) -> awaitable<result<smtp::send_result>> {
      if (auto e = co_await c->open(plain(port)); !e.ok()) co_return e;
      co_return co_await c->send(env, message, 2000ms);
    });
  }

  asio::io_context io_;
  std::shared_ptr<smtp::client> client_;
};

TEST_F(SmtpClientFake, GreetingOtherThan220IsUnavailable) {
  scripted_server server({step::send("554 5.3.2 No SMTP service here\r\n")});
  auto e = run<error>([&](auto c) { return c->open(plain(server.port())); });
  EXPECT_EQ(e.code, errc::unavailable);
  EXPECT_NE(e.message.find("554"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("No SMTP service here"), std::string::npos) << e.message;
  EXPECT_TRUE(server.received().empty()) << "nothing is sent after a refusal";
  EXPECT_FALSE(client_->is_open());
}

TEST_F(SmtpClientFake, EhloThenCapabilities) {
  scripted_server server(greeted({"PIPELINING", "SIZE 1000", "AUTH PLAIN LOGIN", "8BITMIME", "ENHANCEDSTATUSCODES"}));
  auto e = run<error>([&](auto c) { return c->open(plain(server.port())); });
  ASSERT_TRUE(e.ok()) << e.message;
  EXPECT_EQ(server.received(), std::vector<std::string>{"EHLO client.test"});
  EXPECT_TRUE(client_->is_open());
  EXPECT_EQ(client_->capabilities().size, std::optional<std::uint64_t>(1000));
  EXPECT_TRUE(client_->capabilities().has_auth("LOGIN"));
  EXPECT_EQ(client_->greeting(), "fake.test ESMTP ready");
}

TEST_F(SmtpClientFake, HeloFallbackWhenEhloIsUnknown) {
  scripted_server server({step::send("220 old.test SMTP\r\n"), step::read_line(),
                          step::send("500 Command unrecognized\r\n"), step::read_line(),
                          step::send("250 old.test\r\n")});
  auto e = run<error>([&](auto c) { return c->open(plain(server.port())); });
  ASSERT_TRUE(e.ok()) << e.message;
  EXPECT_EQ(server.received(), (std::vector<std::string>{"EHLO client.test", "HELO client.test"}));
  EXPECT_TRUE(client_->capabilities().auth.empty());
}

TEST_F(SmtpClientFake, StartTlsRequestedButNotOffered) {
  scripted_server server(greeted({"AUTH PLAIN", "8BITMIME"}));
  auto opts = plain(server.port());
  opts.tls = smtp::tls_mode::starttls;
  auto e = run<error>([&](auto c) { return c->open(opts); });
  EXPECT_EQ(e.code, errc::failed_precondition);
  EXPECT_NE(e.message.find("does not offer STARTTLS"), std::string::npos) << e.message;
  EXPECT_EQ(server.received(), std::vector<std::string>{"EHLO client.test"}) << "no AUTH in clear";
  EXPECT_FALSE(client_->is_open());
}

TEST_F(SmtpClientFake, StalledGreetingTimesOut) {
  scripted_server server({step::stall()});
  auto e = run<error>([&](auto c) { return c->open(plain(server.port(), 300ms)); });
  EXPECT_EQ(e.code, errc::unavailable);
  EXPECT_NE(e.message.find("within 300 ms"), std::string::npos) << e.message;
}

TEST_F(SmtpClientFake, AuthPlainIsPreferredWithInitialResponse) {
  scripted_server server(greeted({"AUTH LOGIN PLAIN"}) + std::vector<step>{step::read_line(),
                                                                            step::send("235 2.7.0 OK\r\n")});
  auto e = run<error>([&](auto c) -> awaitable<error> {
    if (auto opened = co_await c->open(plain(server.port())); !opened.ok()) co_return opened;
    co_return co_await c->login("user", "p w");
  });
  ASSERT_TRUE(e.ok()) << e.message;
  auto lines = server.received();
  ASSERT_EQ(lines.size(), 2u);
  ASSERT_EQ(lines[1].rfind("AUTH PLAIN ", 0), 0u) << lines[1];
  EXPECT_EQ(base64_decode(lines[1].substr(11)), std::string("\0user\0p w", 9));
}

TEST_F(SmtpClientFake, AuthLoginWhenPlainIsNotOffered) {
  scripted_server server(greeted({"AUTH LOGIN CRAM-MD5"}) +
                         std::vector<step>{step::read_line(), step::send("334 VXNlcm5hbWU6\r\n"), step::read_line(),
                                           step::send("334 UGFzc3dvcmQ6\r\n"), step::read_line(),
                                           step::send("235 Authentication successful\r\n")});
  auto e = run<error>([&](auto c) -> awaitable<error> {
    if (auto opened = co_await c->open(plain(server.port())); !opened.ok()) co_return opened;
    co_return co_await c->login("user@example.test", "secret");
  });
  ASSERT_TRUE(e.ok()) << e.message;
  auto lines = server.received();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[1], "AUTH LOGIN");
  EXPECT_EQ(base64_decode(lines[2]), std::optional<std::string>("user@example.test"));
  EXPECT_EQ(base64_decode(lines[3]), std::optional<std::string>("secret"));
}

TEST_F(SmtpClientFake, Rejected535IsUnauthenticatedWithoutThePassword) {
  // A careless server echoes what it got; neither the password nor its base64 may
  // reach our error message.
  const std::string initial = base64_encode(std::string("\0user\0s3cret-pw", 15));
  scripted_server server(greeted({"ENHANCEDSTATUSCODES", "AUTH PLAIN"}) +
                         std::vector<step>{step::read_line(),
                                           step::send("535 5.7.8 Bad credentials " + initial + " s3cret-pw\r\n")});
  auto e = run<error>([&](auto c) -> awaitable<error> {
    if (auto opened = co_await c->open(plain(server.port())); !opened.ok()) co_return opened;
    co_return co_await c->login("user", "s3cret-pw");
  });
  EXPECT_EQ(e.code, errc::unauthenticated);
  EXPECT_NE(e.message.find("535 5.7.8 Bad credentials"), std::string::npos) << e.message;
  EXPECT_EQ(e.message.find("s3cret-pw"), std::string::npos) << e.message;
  EXPECT_EQ(e.message.find(initial), std::string::npos) << e.message;
}

TEST_F(SmtpClientFake, Transient454IsUnavailable) {
  scripted_server server(greeted({"AUTH PLAIN"}) +
                         std::vector<step>{step::read_line(), step::send("454 4.7.0 Temporary failure\r\n")});
  auto e = run<error>([&](auto c) -> awaitable<error> {
    if (auto opened = co_await c->open(plain(server.port())); !opened.ok()) co_return opened;
    co_return co_await c->login("user", "pw");
  });
  EXPECT_EQ(e.code, errc::unavailable);
  EXPECT_NE(e.message.find("454"), std::string::npos) << e.message;
}

TEST_F(SmtpClientFake, NoUsableMechanismSendsNothing) {
  scripted_server server(greeted({"AUTH CRAM-MD5"}));
  auto e = run<error>([&](auto c) -> awaitable<error> {
    if (auto opened = co_await c->open(plain(server.port())); !opened.ok()) co_return opened;
    co_return co_await c->login("user", "pw");
  });
  EXPECT_EQ(e.code, errc::failed_precondition);
  EXPECT_NE(e.message.find("CRAM-MD5"), std::string::npos) << e.message;
  EXPECT_EQ(server.received().size(), 1u);
}

TEST_F(SmtpClientFake, XOAuth2ErrorChallengeIsAnsweredWithAnEmptyLine) {
  // {"status":"401","schemes":"bearer","scope":"mail"}
  const std::string challenge = base64_encode(R"({"status":"401","schemes":"bearer","scope":"mail"})");
  scripted_server server(greeted({"AUTH PLAIN XOAUTH2"}) +
                         std::vector<step>{step::read_line(), step::send("334 " + challenge + "\r\n"),
                                           step::read_line(), step::send("535 5.7.8 Username and Password not accepted\r\n")});
  auto r = run<result<std::string>>([&](auto c) -> awaitable<result<std::string>> {
    if (auto opened = co_await c->open(plain(server.port())); !opened.ok()) co_return opened;
    co_return co_await c->authenticate_oauth("user", "tok-123");
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unauthenticated);
  EXPECT_NE(r.err().message.find("status 401"), std::string::npos) << r.err().message;
  EXPECT_EQ(r.err().message.find("tok-123"), std::string::npos) << r.err().message;
  auto lines = server.received();
  ASSERT_EQ(lines.size(), 3u);
  ASSERT_EQ(lines[1].rfind("AUTH XOAUTH2 ", 0), 0u) << lines[1];
  EXPECT_EQ(base64_decode(lines[1].substr(13)), std::optional<std::string>("user=user\x01"
                                                                            "auth=Bearer tok-123\x01\x01"));
  EXPECT_EQ(lines[2], "");
}

TEST_F(SmtpClientFake, MixedRecipientResultsAreKept) {
  scripted_server server(greeted({"ENHANCEDSTATUSCODES", "8BITMIME"}) +
                         std::vector<step>{step::read_line(), step::send("250 2.1.0 Accepted\r\n"),  // MAIL
                                           step::read_line(), step::send("250 2.1.5 Accepted\r\n"),  // ok@
                                           step::read_line(), step::send("550 5.1.1 No such user\r\n"),
                                           step::read_line(), step::send("451 4.3.0 Try later\r\n"),
                                           step::read_line(), step::send("354 Go ahead\r\n"),         // DATA
                                           step::read_line(), step::read_line(), step::read_line(),   // body
                                           step::read_line(), step::send("250 2.0.0 OK: queued as 7\r\n")});
  auto r = open_and_send(server.port(), {"me@a.test", {"ok@b.test", "reject@b.test", "defer@b.test"}},
                         "Subject: t\r\n\r\nhi\r\n");
  ASSERT_TRUE(r.ok()) << r.err().message;
  ASSERT_EQ(r->recipients.size(), 3u);
  EXPECT_TRUE(r->recipients[0].accepted);
  EXPECT_EQ(r->recipients[0].code, 250);
  EXPECT_FALSE(r->recipients[1].accepted);
  EXPECT_EQ(r->recipients[1].code, 550);
  EXPECT_EQ(r->recipients[1].enhanced_code, "5.1.1");
  EXPECT_EQ(r->recipients[1].text, "No such user");
  EXPECT_FALSE(r->recipients[2].accepted);
  EXPECT_EQ(r->recipients[2].code, 451);
  EXPECT_EQ(r->recipients[2].enhanced_code, "4.3.0");
  EXPECT_EQ(r->data_code, 250);
  EXPECT_EQ(r->data_text, "OK: queued as 7");
  auto lines = server.received();
  ASSERT_EQ(lines.size(), 10u);
  EXPECT_EQ(lines[1], "MAIL FROM:<me@a.test>");
  EXPECT_EQ(lines[2], "RCPT TO:<ok@b.test>");
  EXPECT_EQ(lines[3], "RCPT TO:<reject@b.test>");
  EXPECT_EQ(lines[5], "DATA");
  EXPECT_EQ(lines[9], ".");
}

TEST_F(SmtpClientFake, NoRecipientAcceptedSendsRsetAndListsThem) {
  scripted_server server(greeted({"ENHANCEDSTATUSCODES"}) +
                         std::vector<step>{step::read_line(), step::send("250 2.1.0 Accepted\r\n"),
                                           step::read_line(), step::send("550 5.1.1 No such user\r\n"),
                                           step::read_line(), step::send("451 4.3.0 Greylisted\r\n"),
                                           step::read_line(), step::send("250 2.0.0 Flushed\r\n")});
  auto r = open_and_send(server.port(), {"me@a.test", {"x@b.test", "y@b.test"}}, "Subject: t\r\n\r\nhi\r\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::failed_precondition);
  EXPECT_NE(r.err().message.find("<x@b.test> 550 5.1.1 No such user"), std::string::npos) << r.err().message;
  EXPECT_NE(r.err().message.find("<y@b.test> 451 4.3.0 Greylisted"), std::string::npos) << r.err().message;
  auto lines = server.received();
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[4], "RSET") << "no DATA without recipients; RSET keeps the connection usable";
  EXPECT_TRUE(client_->is_open());
}

TEST_F(SmtpClientFake, DotStuffingAndCrlfOnTheWire) {
  scripted_server server(greeted({"SIZE 0"}) +
                         std::vector<step>{step::read_line(), step::send("250 ok\r\n"), step::read_line(),
                                           step::send("250 ok\r\n"), step::read_line(), step::send("354 go\r\n"),
                                           step::read_line(), step::read_line(), step::read_line(),
                                           step::read_line(), step::read_line(), step::read_line(),
                                           step::read_line(), step::send("250 queued\r\n")});
  // LF line ends, a line starting with ".", a line that is just ".", no final line end.
  auto r = open_and_send(server.port(), {"me@a.test", {"you@b.test"}}, "Subject: x\n\n.hidden\n.\n..two\nend");
  ASSERT_TRUE(r.ok()) << r.err().message;
  auto lines = server.received();
  ASSERT_EQ(lines.size(), 11u);
  // SIZE advertised (even without a limit): the CRLF-normalised size is announced.
  // "Subject: x\r\n\r\n.hidden\r\n.\r\n..two\r\nend\r\n" = 12+2+9+3+7+5 = 38
  EXPECT_EQ(lines[1], "MAIL FROM:<me@a.test> SIZE=38");
  const std::vector<std::string> body(lines.begin() + 4, lines.end());
  EXPECT_EQ(body, (std::vector<std::string>{"Subject: x", "", "..hidden", "..", "...two", "end", "."}));
}

TEST_F(SmtpClientFake, SizeLimitIsRefusedBeforeMail) {
  scripted_server server(greeted({"SIZE 100"}));
  auto r = open_and_send(server.port(), {"me@a.test", {"you@b.test"}}, std::string(200, 'a'));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::failed_precondition);
  EXPECT_NE(r.err().message.find("202 bytes"), std::string::npos) << r.err().message;
  EXPECT_NE(r.err().message.find("at most 100"), std::string::npos) << r.err().message;
  EXPECT_EQ(server.received().size(), 1u) << "only EHLO: nothing of the transaction was sent";
  EXPECT_TRUE(client_->is_open());
}

TEST_F(SmtpClientFake, EightBitWithout8BitMimeIsRefused) {
  scripted_server server(greeted({"SIZE 1000"}));
  auto r = open_and_send(server.port(), {"me@a.test", {"you@b.test"}}, "Subject: caf\xc3\xa9\r\n\r\nx\r\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::failed_precondition);
  EXPECT_NE(r.err().message.find("8BITMIME"), std::string::npos) << r.err().message;
  EXPECT_EQ(server.received().size(), 1u);
}

TEST_F(SmtpClientFake, EightBitGoesWithBody8BitMime) {
  scripted_server server(greeted({"8BITMIME"}) + std::vector<step>{step::read_line(), step::send("451 4.3.2 busy\r\n"),
                                                                   step::read_line(), step::send("250 ok\r\n")});
  auto r = open_and_send(server.port(), {"me@a.test", {"you@b.test"}}, "Subject: caf\xc3\xa9\r\n\r\nx\r\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unavailable) << "4xx on MAIL";
  EXPECT_NE(r.err().message.find("451"), std::string::npos) << r.err().message;
  auto lines = server.received();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1], "MAIL FROM:<me@a.test> BODY=8BITMIME");
  EXPECT_EQ(lines[2], "RSET");
}

TEST_F(SmtpClientFake, NonAsciiAddressWithoutSmtpUtf8NamesIt) {
  scripted_server server(greeted({"8BITMIME"}));
  auto r = open_and_send(server.port(), {"me@a.test", {"ok@b.test", "j\xc3\xb6rg@b.test"}}, "Subject: x\r\n\r\ny\r\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::invalid_argument);
  EXPECT_NE(r.err().message.find("recipient 2 'j\xc3\xb6rg@b.test'"), std::string::npos) << r.err().message;
  EXPECT_EQ(server.received().size(), 1u);
}

// MAIL and RCPT accepted; `then` runs from the DATA command on.
std::vector<step> up_to_data(std::vector<step> then) {
  return greeted({}) + std::vector<step>{step::read_line(), step::send("250 ok\r\n"), step::read_line(),
                                         step::send("250 ok\r\n")} +
         then;
}

TEST_F(SmtpClientFake, DropBeforeDataIsAnsweredIsUnavailable) {
  scripted_server server(up_to_data({step::read_line(), step::close()}));
  auto r = open_and_send(server.port(), {"me@a.test", {"you@b.test"}}, "Subject: x\r\n\r\nbody\r\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unavailable) << r.err().message << ": nothing of the message was sent, retry is safe";
  EXPECT_NE(r.err().message.find("DATA"), std::string::npos) << r.err().message;
  EXPECT_EQ(r.err().message.find("outcome unknown"), std::string::npos) << r.err().message;
  EXPECT_FALSE(client_->is_open());
}

TEST_F(SmtpClientFake, DropWhileWritingTheMessageIsUnavailable) {
  // The server reads one line of a message far larger than the socket buffers and
  // closes: the write fails before the final "." leaves us, so nothing was accepted.
  scripted_server server(up_to_data({step::read_line(), step::send("354 go\r\n"), step::read_line(), step::close()}));
  std::string big = "Subject: big\r\n\r\n";
  const std::string line(998, 'x');
  while (big.size() < 16u * 1024 * 1024) big += line + "\r\n";
  auto r = open_and_send(server.port(), {"me@a.test", {"you@b.test"}}, big);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unavailable) << r.err().message;
  EXPECT_NE(r.err().message.find("write"), std::string::npos) << r.err().message;
  EXPECT_FALSE(client_->is_open());
}

TEST_F(SmtpClientFake, DropAfterTheFinalDotIsAbortedOutcomeUnknown) {
  // The whole message and its "." arrive; the connection drops before the 250.
  scripted_server server(up_to_data({step::read_line(), step::send("354 go\r\n"), step::read_line(),
                                     step::read_line(), step::read_line(), step::read_line(), step::close()}));
  auto r = open_and_send(server.port(), {"me@a.test", {"you@b.test"}}, "Subject: x\r\n\r\nbody\r\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::aborted) << r.err().message;
  EXPECT_EQ(r.err().message.rfind("outcome unknown:", 0), 0u) << r.err().message;
  EXPECT_NE(r.err().message.find("before retrying"), std::string::npos) << r.err().message;
  const auto lines = server.received();
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back(), ".") << "the server did get the final dot";
  EXPECT_FALSE(client_->is_open());
}

TEST_F(SmtpClientFake, NoReplyAfterTheFinalDotIsAbortedOutcomeUnknown) {
  scripted_server server(up_to_data({step::read_line(), step::send("354 go\r\n"), step::read_line(),
                                     step::read_line(), step::read_line(), step::read_line(), step::stall()}));
  auto r = run<result<smtp::send_result>>([&](auto c) -> awaitable<result<smtp::send_result>> {
    if (auto e = co_await c->open(plain(server.port())); !e.ok()) co_return e;
    smtp::envelope env{"me@a.test", {"you@b.test"}};
    std::string message = "Subject: x\r\n\r\nbody\r\n";
    co_return co_await c->send(env, message, 300ms);
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::aborted) << r.err().message;
  EXPECT_EQ(r.err().message.rfind("outcome unknown:", 0), 0u) << r.err().message;
  EXPECT_NE(r.err().message.find("within 300 ms"), std::string::npos) << r.err().message;
  EXPECT_FALSE(client_->is_open());
}

TEST_F(SmtpClientFake, TransientRefusalAfterTheDotStaysUnavailable) {
  // A reply did come: the outcome is known (refused), so a retry is safe.
  scripted_server server(up_to_data({step::read_line(), step::send("354 go\r\n"), step::read_line(),
                                     step::read_line(), step::read_line(), step::read_line(),
                                     step::send("451 4.3.0 try later\r\n"), step::read_line(),
                                     step::send("250 ok\r\n")}));
  auto r = open_and_send(server.port(), {"me@a.test", {"you@b.test"}}, "Subject: x\r\n\r\nbody\r\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unavailable) << r.err().message;
  EXPECT_NE(r.err().message.find("451"), std::string::npos) << r.err().message;
}

TEST_F(SmtpClientFake, UnansweredDataTimesOut) {
  scripted_server server(greeted({}) + std::vector<step>{step::read_line(), step::send("250 ok\r\n"), step::read_line(),
                                                         step::send("250 ok\r\n"), step::read_line(), step::stall()});
  auto r = run<result<smtp::send_result>>([&](auto c) -> awaitable<result<smtp::send_result>> {
    if (auto e = co_await c->open(plain(server.port())); !e.ok()) co_return e;
    // Built outside the co_await: g++ 12 cannot take braced lists in its operand.
    smtp::envelope env{"me@a.test", {"you@b.test"}};
    std::string message = "x\r\n";
    co_return co_await c->send(env, message, 300ms);
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::deadline_exceeded);
  EXPECT_NE(r.err().message.find("within 300 ms"), std::string::npos) << r.err().message;
  EXPECT_FALSE(client_->is_open());
}

TEST_F(SmtpClientFake, QuitSendsQuitAndNeverFails) {
  scripted_server server(greeted({}) + std::vector<step>{step::read_line(), step::send("221 bye\r\n"), step::close()});
  auto ok = run<bool>([&](auto c) -> awaitable<bool> {
    if (auto e = co_await c->open(plain(server.port())); !e.ok()) co_return false;
    co_await c->quit(1000ms);
    co_await c->quit(1000ms);  // twice: nothing left to do, still fine
    co_return !c->is_open();
  });
  EXPECT_TRUE(ok);
  EXPECT_EQ(server.received(), (std::vector<std::string>{"EHLO client.test", "QUIT"}));
}

}  // namespace
}  // namespace mailbroker::testing
