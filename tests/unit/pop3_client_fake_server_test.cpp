// pop3::client against scripted servers: exact command lines, error mapping, streaming
// and the failures (drops, stalls) a real server won't produce on demand.
#include <gtest/gtest.h>

#include <optional>

#include "common/base64.hpp"
#include "fakes/scripted_server.hpp"
#include "protocol/pop3/client.hpp"

namespace mailbroker::testing {
namespace {

using step = script_step;
using namespace std::chrono_literals;

constexpr const char* greeting = "+OK fake POP3 ready\r\n";
constexpr const char* caps_user = "+OK\r\nUSER\r\nUIDL\r\nTOP\r\nRESP-CODES\r\n.\r\n";
constexpr const char* caps_plain = "+OK\r\nUSER\r\nSASL PLAIN LOGIN\r\nUIDL\r\n.\r\n";

class Pop3ClientFake : public ::testing::Test {
 protected:
  // Runs `body` with a fresh client on the io_context until it returns.
  template <class T>
  T run(std::function<awaitable<T>(std::shared_ptr<pop3::client>)> body) {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    auto c = std::make_shared<pop3::client>(io_.get_executor(), ctx);
    std::optional<T> out;
    asio::co_spawn(
        io_,
        [&]() -> awaitable<void> {
          out = co_await body(c);
          c->close(error{errc::cancelled, "test over"});
          io_.stop();
        },
        asio::detached);
    io_.run_for(10s);
    if (!out) ADD_FAILURE() << "the test body did not finish";
    return out.value_or(T(error{errc::internal, "test body did not finish"}));
  }

  static pop3::connect_options plain(std::uint16_t port, std::chrono::milliseconds timeout = 2000ms) {
    pop3::connect_options o;
    o.host = "127.0.0.1";
    o.port = port;
    o.tls = pop3::tls_mode::plain;
    o.timeout = timeout;
    return o;
  }

  // Script prefix: greeting, CAPA answered with `caps`.
  static std::vector<step> opened(const std::string& caps) {
    return {step::send(greeting), step::read_line(), step::send(caps)};
  }
  static std::vector<step> with(std::vector<step> head, std::vector<step> tail) {
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
  }

  asio::io_context io_;
};

awaitable<error> open_and_login(std::shared_ptr<pop3::client> c, pop3::connect_options o, std::string user,
                                std::string password) {
  if (auto e = co_await c->open(std::move(o)); !e.ok()) co_return e;
  co_return co_await c->login(std::move(user), std::move(password));
}

// Collects a retrieve(): the chunks as the sink saw them and the final error.
struct retrieved {
  error status;
  std::vector<std::string> chunks;
  bool open_after = true;
  std::string joined() const {
    std::string out;
    for (const auto& c : chunks) out += c;
    return out;
  }
};

TEST_F(Pop3ClientFake, ErrGreetingIsUnavailable) {
  scripted_server server({step::send("-ERR [SYS/TEMP] Too many connections\r\n")});
  auto e = run<error>([&](auto c) { return c->open(plain(server.port())); });
  EXPECT_EQ(e.code, errc::unavailable);
  EXPECT_NE(e.message.find("Too many connections"), std::string::npos) << e.message;
  EXPECT_TRUE(server.received().empty());
}

TEST_F(Pop3ClientFake, StlsRequestedButNotOffered) {
  scripted_server server(opened(caps_plain));
  auto opts = plain(server.port());
  opts.tls = pop3::tls_mode::starttls;
  auto e = run<error>([&](auto c) { return c->open(opts); });
  EXPECT_EQ(e.code, errc::failed_precondition);
  EXPECT_NE(e.message.find("does not offer STLS"), std::string::npos) << e.message;
  EXPECT_EQ(server.received(), std::vector<std::string>{"CAPA"}) << "STLS must not be sent";
}

TEST_F(Pop3ClientFake, StalledGreetingTimesOut) {
  scripted_server server({step::stall()});
  auto e = run<error>([&](auto c) { return c->open(plain(server.port(), 300ms)); });
  EXPECT_EQ(e.code, errc::unavailable);
  EXPECT_NE(e.message.find("within 300 ms"), std::string::npos) << e.message;
}

TEST_F(Pop3ClientFake, AuthPlainWithInitialResponseWhenOffered) {
  scripted_server server(with(opened(caps_plain), {step::read_line(), step::send("+OK Logged in.\r\n"),
                                                   step::read_line(), step::send(caps_user)}));
  auto e = run<error>([&](auto c) { return open_and_login(c, plain(server.port()), "user", "p w"); });
  ASSERT_TRUE(e.ok()) << e.message;
  auto lines = server.received();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "CAPA");
  ASSERT_EQ(lines[1].rfind("AUTH PLAIN ", 0), 0u) << lines[1];
  EXPECT_EQ(base64_decode(lines[1].substr(11)), std::string("\0user\0p w", 9));
  EXPECT_EQ(lines[2], "CAPA") << "capabilities are asked again after login";
}

TEST_F(Pop3ClientFake, UserPassWhenSaslPlainIsNotOffered) {
  std::vector<std::string> caps_after;
  scripted_server server(with(opened("+OK\r\nUSER\r\n.\r\n"),
                              {step::read_line(), step::send("+OK\r\n"), step::read_line(),
                               step::send("+OK Logged in.\r\n"), step::read_line(), step::send(caps_user)}));
  auto e = run<error>([&](auto c) -> awaitable<error> {
    auto r = co_await open_and_login(c, plain(server.port()), "user", "p w");
    EXPECT_TRUE(c->caps().uidl) << "the TRANSACTION state's CAPA replaces the first one";
    co_return r;
  });
  ASSERT_TRUE(e.ok()) << e.message;
  EXPECT_EQ(server.received(), (std::vector<std::string>{"CAPA", "USER user", "PASS p w", "CAPA"}));
}

TEST_F(Pop3ClientFake, NoCapaMeansUserPass) {
  scripted_server server({step::send(greeting), step::read_line(), step::send("-ERR unknown command\r\n"),
                          step::read_line(), step::send("+OK\r\n"), step::read_line(),
                          step::send("+OK Logged in.\r\n"), step::read_line(), step::send("-ERR unknown\r\n")});
  auto e = run<error>([&](auto c) { return open_and_login(c, plain(server.port()), "user", "pw"); });
  ASSERT_TRUE(e.ok()) << e.message;
  EXPECT_EQ(server.received(), (std::vector<std::string>{"CAPA", "USER user", "PASS pw", "CAPA"}));
}

TEST_F(Pop3ClientFake, AuthErrIsUnauthenticatedWithoutThePassword) {
  scripted_server server(with(opened(caps_plain), {step::read_line(),
                                                   step::send("-ERR [AUTH] Authentication failed.\r\n")}));
  auto e = run<error>([&](auto c) { return open_and_login(c, plain(server.port()), "user", "s3cr3t-pw"); });
  EXPECT_EQ(e.code, errc::unauthenticated);
  EXPECT_NE(e.message.find("[AUTH] Authentication failed."), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("'user'"), std::string::npos) << e.message;
  EXPECT_EQ(e.message.find("s3cr3t-pw"), std::string::npos) << e.message;
  EXPECT_EQ(e.message.find(base64_encode(std::string("\0user\0s3cr3t-pw", 15))), std::string::npos) << e.message;
}

TEST_F(Pop3ClientFake, PassErrInUseIsUnavailable) {
  scripted_server server(with(opened(caps_user), {step::read_line(), step::send("+OK\r\n"), step::read_line(),
                                                  step::send("-ERR [IN-USE] Mailbox is locked\r\n")}));
  auto e = run<error>([&](auto c) { return open_and_login(c, plain(server.port()), "user", "s3cr3t-pw"); });
  EXPECT_EQ(e.code, errc::unavailable);
  EXPECT_NE(e.message.find("[IN-USE] Mailbox is locked"), std::string::npos) << e.message;
  EXPECT_EQ(e.message.find("s3cr3t-pw"), std::string::npos) << e.message;
}

TEST_F(Pop3ClientFake, OAuthBearerErrorChallengeIsAnsweredAndReported) {
  const std::string challenge = base64_encode(R"({"status":"invalid_token","scope":"mail read"})");
  scripted_server server(with(opened("+OK\r\nSASL PLAIN XOAUTH2 OAUTHBEARER\r\n.\r\n"),
                              {step::read_line(), step::send("+ " + challenge + "\r\n"), step::read_line(),
                               step::send("-ERR [AUTH] Authentication failed.\r\n")}));
  auto r = run<result<std::string>>([&](auto c) -> awaitable<result<std::string>> {
    if (auto e = co_await c->open(plain(server.port())); !e.ok()) co_return e;
    co_return co_await c->authenticate_oauth("user", "tok-123");
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unauthenticated);
  EXPECT_NE(r.err().message.find("invalid_token"), std::string::npos) << r.err().message;
  EXPECT_NE(r.err().message.find("mail read"), std::string::npos) << r.err().message;
  EXPECT_EQ(r.err().message.find("tok-123"), std::string::npos) << r.err().message;
  auto lines = server.received();
  ASSERT_EQ(lines.size(), 3u);
  ASSERT_EQ(lines[1].rfind("AUTH OAUTHBEARER ", 0), 0u) << lines[1];
  EXPECT_EQ(base64_decode(lines[1].substr(17)), std::string("n,a=user,\x01" "auth=Bearer tok-123\x01\x01"));
  EXPECT_EQ(lines[2], "AQ==") << "RFC 7628: the error challenge is answered with %x01";
}

TEST_F(Pop3ClientFake, Xoauth2LongTokenGoesInTheFirstChallengeAnswer) {
  const std::string token(400, 't');  // the AUTH line would exceed 255 octets (RFC 5034 4)
  scripted_server server(with(opened("+OK\r\nSASL XOAUTH2\r\n.\r\n"),
                              {step::read_line(), step::send("+ \r\n"), step::read_line(),
                               step::send("+OK Logged in.\r\n"), step::read_line(), step::send(caps_user)}));
  auto r = run<result<std::string>>([&](auto c) -> awaitable<result<std::string>> {
    if (auto e = co_await c->open(plain(server.port())); !e.ok()) co_return e;
    co_return co_await c->authenticate_oauth("user", token);
  });
  ASSERT_TRUE(r.ok()) << r.err().message;
  EXPECT_EQ(*r, "XOAUTH2");
  auto lines = server.received();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[1], "AUTH XOAUTH2");
  EXPECT_EQ(base64_decode(lines[2]), "user=user\x01" "auth=Bearer " + token + "\x01\x01");
}

TEST_F(Pop3ClientFake, OAuthWithoutMechanismIsFailedPrecondition) {
  scripted_server server(opened(caps_plain));
  auto r = run<result<std::string>>([&](auto c) -> awaitable<result<std::string>> {
    if (auto e = co_await c->open(plain(server.port())); !e.ok()) co_return e;
    co_return co_await c->authenticate_oauth("user", "tok");
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::failed_precondition);
  EXPECT_EQ(server.received().size(), 1u) << "nothing sent after CAPA";
}

TEST_F(Pop3ClientFake, ListAndUidlMergedByNumber) {
  scripted_server server(with(opened(caps_user), {step::read_line(), step::send("+OK 3 messages\r\n1 120\r\n2 4000\r\n"
                                                                                "5 77\r\n.\r\n"),
                                                  step::read_line(),
                                                  step::send("+OK\r\n5 uid-five\r\n1 Uid.One\r\n2 x2\r\n.\r\n")}));
  auto r = run<result<std::vector<pop3::message_entry>>>([&](auto c)
                                                             -> awaitable<result<std::vector<pop3::message_entry>>> {
    if (auto e = co_await c->open(plain(server.port())); !e.ok()) co_return e;
    co_return co_await c->list(1s);
  });
  ASSERT_TRUE(r.ok()) << r.err().message;
  std::vector<pop3::message_entry> expected{{1, 120, "Uid.One"}, {2, 4000, "x2"}, {5, 77, "uid-five"}};
  EXPECT_EQ(*r, expected);
  EXPECT_EQ(server.received(), (std::vector<std::string>{"CAPA", "LIST", "UIDL"}));
}

TEST_F(Pop3ClientFake, ListAndUidlThatDisagreeAreAnError) {
  scripted_server server(with(opened(caps_user), {step::read_line(), step::send("+OK\r\n1 120\r\n2 40\r\n.\r\n"),
                                                  step::read_line(), step::send("+OK\r\n1 a\r\n3 c\r\n.\r\n")}));
  auto r = run<result<std::vector<pop3::message_entry>>>([&](auto c)
                                                             -> awaitable<result<std::vector<pop3::message_entry>>> {
    if (auto e = co_await c->open(plain(server.port())); !e.ok()) co_return e;
    co_return co_await c->list(1s);
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unavailable);
  EXPECT_NE(r.err().message.find("message 2"), std::string::npos) << r.err().message;
}

TEST_F(Pop3ClientFake, ListWithoutUidlIsFailedPrecondition) {
  scripted_server server(opened("+OK\r\nUSER\r\nTOP\r\n.\r\n"));
  auto r = run<result<std::vector<pop3::message_entry>>>([&](auto c)
                                                             -> awaitable<result<std::vector<pop3::message_entry>>> {
    if (auto e = co_await c->open(plain(server.port())); !e.ok()) co_return e;
    co_return co_await c->list(1s);
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::failed_precondition);
  EXPECT_EQ(server.received().size(), 1u);
}

class Pop3ClientFakeRetr : public Pop3ClientFake {
 protected:
  retrieved retr(std::uint16_t port, std::uint32_t number, std::chrono::milliseconds timeout = 2s,
                 std::function<error(std::string_view)> sink = {}) {
    retrieved out;
    auto e = run<error>([&](auto c) -> awaitable<error> {
      if (auto opened = co_await c->open(plain(port)); !opened.ok()) co_return opened;
      std::function<error(std::string_view)> collect = [&](std::string_view bytes) {
        out.chunks.emplace_back(bytes);
        return sink ? sink(bytes) : error::none();
      };
      auto r = co_await c->retrieve(number, std::move(collect), timeout);
      out.open_after = c->is_open();
      co_return r;
    });
    out.status = e;
    return out;
  }
};

TEST_F(Pop3ClientFakeRetr, DotStuffingAndBareLfAreUndoneExactly) {
  scripted_server server(with(opened(caps_user),
                              {step::read_line(), step::send("+OK 60 octets\r\nSubject: dots\r\n\r\n..leading dot\r\n"
                                                             ".x\r\n...\r\nbare\nlf\r\n\r\n.\r\n")}));
  auto out = retr(server.port(), 7);
  ASSERT_TRUE(out.status.ok()) << out.status.message;
  EXPECT_EQ(out.joined(), "Subject: dots\r\n\r\n.leading dot\r\nx\r\n..\r\nbare\r\nlf\r\n\r\n");
  EXPECT_TRUE(out.open_after);
  EXPECT_EQ(server.received().back(), "RETR 7");
}

TEST_F(Pop3ClientFakeRetr, LargeBodyArrivesInSeveralChunks) {
  std::string wire = "+OK\r\n";
  std::string expected;
  for (int i = 0; i < 3000; ++i) {
    std::string line = "line " + std::to_string(i) + " " + std::string(100 + i % 50, static_cast<char>('a' + i % 26));
    if (i % 7 == 0) line = "." + line;  // needs stuffing on the wire
    expected += line + "\r\n";
    wire += (line[0] == '.' ? "." : "") + line + "\r\n";
  }
  wire += ".\r\n";
  scripted_server server(with(opened(caps_user), {step::read_line(), step::send(wire)}));
  auto out = retr(server.port(), 1);
  ASSERT_TRUE(out.status.ok()) << out.status.message;
  EXPECT_EQ(out.joined(), expected);
  EXPECT_GT(out.chunks.size(), 2u) << "a " << expected.size() << "-byte body must be streamed, not buffered";
  for (const auto& chunk : out.chunks) EXPECT_LE(chunk.size(), 2 * 64 * 1024u);
}

TEST_F(Pop3ClientFakeRetr, ErrIsNotFound) {
  scripted_server server(with(opened(caps_user), {step::read_line(), step::send("-ERR There's no message 9.\r\n")}));
  auto out = retr(server.port(), 9);
  EXPECT_EQ(out.status.code, errc::not_found);
  EXPECT_NE(out.status.message.find("no message 9"), std::string::npos) << out.status.message;
  EXPECT_TRUE(out.chunks.empty());
  EXPECT_TRUE(out.open_after);
}

TEST_F(Pop3ClientFakeRetr, DropMidBodyIsUnavailable) {
  scripted_server server(with(opened(caps_user), {step::read_line(), step::send("+OK\r\nSubject: cut\r\n\r\nhalf"),
                                                  step::close()}));
  auto out = retr(server.port(), 1);
  EXPECT_EQ(out.status.code, errc::unavailable);
  EXPECT_NE(out.status.message.find("closed"), std::string::npos) << out.status.message;
  EXPECT_FALSE(out.open_after);
  EXPECT_EQ(out.joined().find("half"), std::string::npos) << "an unfinished line is never delivered";
}

TEST_F(Pop3ClientFakeRetr, SinkErrorAbortsAndCloses) {
  scripted_server server(with(opened(caps_user), {step::read_line(), step::send("+OK\r\nSubject: x\r\n\r\nbody\r\n"),
                                                  step::stall()}));
  auto out = retr(server.port(), 1, 2s, [](std::string_view) { return error{errc::resource_exhausted, "disk full"}; });
  EXPECT_EQ(out.status.code, errc::resource_exhausted);
  EXPECT_EQ(out.status.message, "disk full");
  EXPECT_FALSE(out.open_after);
}

TEST_F(Pop3ClientFakeRetr, StalledBodyHitsTheDeadline) {
  scripted_server server(with(opened(caps_user), {step::read_line(), step::send("+OK\r\nSubject: x\r\n"),
                                                  step::stall()}));
  auto out = retr(server.port(), 1, 300ms);
  EXPECT_EQ(out.status.code, errc::deadline_exceeded);
  EXPECT_NE(out.status.message.find("'RETR' within 300 ms"), std::string::npos) << out.status.message;
  EXPECT_FALSE(out.open_after);
}

TEST_F(Pop3ClientFake, TopReturnsTheHeaderBlock) {
  scripted_server server(with(opened(caps_user),
                              {step::read_line(), step::send("+OK\r\nFrom: a@b\r\nSubject: s\r\n\r\n.\r\n")}));
  auto r = run<result<std::string>>([&](auto c) -> awaitable<result<std::string>> {
    if (auto e = co_await c->open(plain(server.port())); !e.ok()) co_return e;
    co_return co_await c->top(2, 0, 1s);
  });
  ASSERT_TRUE(r.ok()) << r.err().message;
  EXPECT_EQ(*r, "From: a@b\r\nSubject: s\r\n\r\n");
  EXPECT_EQ(server.received().back(), "TOP 2 0");
}

TEST_F(Pop3ClientFake, StatAndDeleErr) {
  scripted_server server(with(opened(caps_user), {step::read_line(), step::send("+OK 2 320\r\n"), step::read_line(),
                                                  step::send("-ERR Message is deleted.\r\n")}));
  auto e = run<error>([&](auto c) -> awaitable<error> {
    if (auto opened = co_await c->open(plain(server.port())); !opened.ok()) co_return opened;
    auto s = co_await c->stat(1s);
    if (!s) co_return s.err();
    EXPECT_EQ(*s, (pop3::maildrop_stat{2, 320}));
    co_return co_await c->dele(1, 1s);
  });
  EXPECT_EQ(e.code, errc::not_found);
  EXPECT_NE(e.message.find("Message is deleted."), std::string::npos) << e.message;
  EXPECT_EQ(server.received().back(), "DELE 1");
}

TEST_F(Pop3ClientFake, UnansweredNoopTimesOutAndCloses) {
  scripted_server server(with(opened(caps_user), {step::read_line(), step::stall()}));
  auto e = run<error>([&](auto c) -> awaitable<error> {
    if (auto opened = co_await c->open(plain(server.port())); !opened.ok()) co_return opened;
    auto r = co_await c->noop(300ms);
    EXPECT_FALSE(c->is_open());
    auto again = co_await c->noop(300ms);
    EXPECT_EQ(again.code, errc::unavailable);
    EXPECT_NE(again.message.find("within 300 ms"), std::string::npos) << "the reason is kept: " << again.message;
    co_return r;
  });
  EXPECT_EQ(e.code, errc::deadline_exceeded);
  EXPECT_NE(e.message.find("NOOP"), std::string::npos) << e.message;
}

TEST_F(Pop3ClientFake, QuitErrMeansDeletionsNotCommitted) {
  scripted_server server(with(opened(caps_user), {step::read_line(), step::send("+OK Marked to be deleted.\r\n"),
                                                  step::read_line(),
                                                  step::send("-ERR [SYS/PERM] Couldn't delete messages\r\n")}));
  auto e = run<error>([&](auto c) -> awaitable<error> {
    if (auto opened = co_await c->open(plain(server.port())); !opened.ok()) co_return opened;
    if (auto d = co_await c->dele(1, 1s); !d.ok()) co_return d;
    auto r = co_await c->quit(1s);
    EXPECT_FALSE(c->is_open());
    co_return r;
  });
  EXPECT_EQ(e.code, errc::unavailable);
  EXPECT_NE(e.message.find("deletions not committed"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("Couldn't delete messages"), std::string::npos) << e.message;
}

TEST_F(Pop3ClientFake, IdleDropIsReportedWithTheServersReason) {
  scripted_server server(with(opened(caps_user), {step::send("-ERR Disconnected for inactivity.\r\n"), step::close()}));
  std::optional<error> lost;
  auto e = run<error>([&](auto c) -> awaitable<error> {
    c->set_on_lost([&lost](error why) { lost = why; });
    if (auto opened = co_await c->open(plain(server.port())); !opened.ok()) co_return opened;
    asio::steady_timer t(co_await asio::this_coro::executor, 300ms);
    co_await t.async_wait(use_awaitable);
    co_return error::none();
  });
  ASSERT_TRUE(e.ok()) << e.message;
  ASSERT_TRUE(lost.has_value());
  EXPECT_EQ(lost->code, errc::unavailable);
  EXPECT_NE(lost->message.find("Disconnected for inactivity"), std::string::npos) << lost->message;
}

}  // namespace
}  // namespace mailbroker::testing
