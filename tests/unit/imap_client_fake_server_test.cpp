// imap::client against scripted servers: the edge cases Dovecot won't produce.
#include <gtest/gtest.h>

#include <optional>

#include "common/base64.hpp"
#include "fakes/scripted_server.hpp"
#include "protocol/imap/client.hpp"

namespace mailbroker::testing {
namespace {

using step = script_step;
using namespace std::chrono_literals;

class imap_client_fake : public ::testing::Test {
 protected:
  // Runs `body` with a fresh client on the io_context until it returns.
  template <class T>
  T run(std::function<awaitable<T>(std::shared_ptr<imap::client>)> body) {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    auto c = std::make_shared<imap::client>(io_.get_executor(), ctx);
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
    return *out;
  }

  imap::connect_options plain(std::uint16_t port, std::chrono::milliseconds timeout = 2000ms) {
    imap::connect_options o;
    o.host = "127.0.0.1";
    o.port = port;
    o.tls = imap::tls_mode::plain;
    o.timeout = timeout;
    return o;
  }

  asio::io_context io_;
};

TEST_F(imap_client_fake, StartTlsRequestedButNotOffered) {
  scripted_server server({step::send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] fake ready\r\n")});
  auto opts = plain(server.port());
  opts.tls = imap::tls_mode::starttls;
  auto e = run<error>([&](auto c) { return c->open(opts); });
  EXPECT_EQ(e.code, errc::failed_precondition);
  EXPECT_NE(e.message.find("does not offer STARTTLS"), std::string::npos) << e.message;
}

TEST_F(imap_client_fake, StalledGreetingTimesOut) {
  scripted_server server({step::stall()});
  auto e = run<error>([&](auto c) { return c->open(plain(server.port(), 300ms)); });
  EXPECT_EQ(e.code, errc::unavailable);
  EXPECT_NE(e.message.find("within 300 ms"), std::string::npos) << e.message;
}

TEST_F(imap_client_fake, GarbageGreetingIsAProtocolError) {
  scripted_server server({step::send("* OK hi\r\n* 1 FETCH (BODY {99999999999999}\r\n")});
  auto e = run<error>([&](auto c) { return c->open(plain(server.port())); });
  EXPECT_EQ(e.code, errc::unavailable);
  EXPECT_NE(e.message.find("protocol error"), std::string::npos) << e.message;
}

TEST_F(imap_client_fake, ByeGreetingIsRefusal) {
  scripted_server server({step::send("* BYE Too many connections\r\n")});
  auto e = run<error>([&](auto c) { return c->open(plain(server.port())); });
  EXPECT_EQ(e.code, errc::unavailable);
  EXPECT_NE(e.message.find("Too many connections"), std::string::npos) << e.message;
}

TEST_F(imap_client_fake, LoginDisabledWithoutAuthPlainIsRefusedLocally) {
  scripted_server server({step::send("* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] hi\r\n")});
  auto e = run<error>([&](auto c) -> awaitable<error> {
    if (auto opened = co_await c->open(plain(server.port())); !opened.ok()) co_return opened;
    co_return co_await c->login("user", "pw");
  });
  EXPECT_EQ(e.code, errc::failed_precondition);
  EXPECT_NE(e.message.find("LOGINDISABLED"), std::string::npos) << e.message;
  EXPECT_TRUE(server.received().empty()) << "no credentials may be sent";
}

TEST_F(imap_client_fake, AuthenticatePlainWithSaslIrThenDropIsReported) {
  scripted_server server({step::send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] hi\r\n"), step::read_line(),
                          step::send("{tag} OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n"), step::close()});
  std::optional<error> lost;
  auto e = run<error>([&](auto c) -> awaitable<error> {
    c->set_on_lost([&lost](error why) { lost = why; });
    if (auto opened = co_await c->open(plain(server.port())); !opened.ok()) co_return opened;
    auto login = co_await c->login("user", "p w");
    // Wait for the drop to be noticed by the reader.
    asio::steady_timer t(co_await asio::this_coro::executor, 500ms);
    co_await t.async_wait(use_awaitable);
    co_return login;
  });
  ASSERT_TRUE(e.ok()) << e.message;
  auto lines = server.received();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].rfind("A0001 AUTHENTICATE PLAIN ", 0), 0u) << lines[0];
  EXPECT_EQ(base64_decode(lines[0].substr(25)), std::string("\0user\0p w", 9));
  ASSERT_TRUE(lost.has_value());
  EXPECT_EQ(lost->code, errc::unavailable);
}

TEST_F(imap_client_fake, AuthenticatePlainAnswersTheContinuation) {
  scripted_server server({step::send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n"), step::read_line(),
                          step::send("+ \r\n"), step::read_line(),
                          step::send("{tag} NO [AUTHENTICATIONFAILED] Authentication failed.\r\n")});
  auto e = run<error>([&](auto c) -> awaitable<error> {
    if (auto opened = co_await c->open(plain(server.port())); !opened.ok()) co_return opened;
    co_return co_await c->login("user", "secret");
  });
  EXPECT_EQ(e.code, errc::unauthenticated);
  EXPECT_NE(e.message.find("AUTHENTICATIONFAILED"), std::string::npos) << e.message;
  EXPECT_EQ(e.message.find("secret"), std::string::npos);
  auto lines = server.received();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "A0001 AUTHENTICATE PLAIN");
  EXPECT_EQ(base64_decode(lines[1]), std::string("\0user\0secret", 12));
}

TEST_F(imap_client_fake, LoginFallbackQuotesCredentials) {
  scripted_server server({step::send("* OK [CAPABILITY IMAP4rev1] hi\r\n"), step::read_line(),
                          step::send("{tag} OK [CAPABILITY IMAP4rev1] welcome\r\n")});
  auto e = run<error>([&](auto c) -> awaitable<error> {
    if (auto opened = co_await c->open(plain(server.port())); !opened.ok()) co_return opened;
    co_return co_await c->login("user", "p\"w");
  });
  ASSERT_TRUE(e.ok()) << e.message;
  auto lines = server.received();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "A0001 LOGIN user \"p\\\"w\"");
}

TEST_F(imap_client_fake, UnansweredNoopTimesOutAndCloses) {
  scripted_server server({step::send("* OK [CAPABILITY IMAP4rev1] hi\r\n"), step::read_line(), step::stall()});
  auto e = run<error>([&](auto c) -> awaitable<error> {
    if (auto opened = co_await c->open(plain(server.port())); !opened.ok()) co_return opened;
    auto r = co_await c->noop(300ms);
    EXPECT_FALSE(c->is_open());
    co_return r;
  });
  EXPECT_EQ(e.code, errc::deadline_exceeded);
  EXPECT_NE(e.message.find("NOOP"), std::string::npos) << e.message;
}

// Pipelining: two commands in flight, answered out of order, each FETCH routed by its UID.
TEST_F(imap_client_fake, PipelinedCommandsEachGetTheirOwnAnswers) {
  scripted_server server({step::send("* OK [CAPABILITY IMAP4rev1] hi\r\n"), step::read_line(), step::read_line(),
                          step::send("* 2 FETCH (UID 20 FLAGS ())\r\n* 1 FETCH (UID 10 FLAGS (\\Seen))\r\n"
                                     "* 3 EXISTS\r\nA0002 OK second\r\nA0001 OK first\r\n"),
                          step::stall()});
  auto r = run<result<std::vector<imap::command_result>>>(
      [&](auto c) -> awaitable<result<std::vector<imap::command_result>>> {
        if (auto e = co_await c->open(plain(server.port())); !e.ok()) co_return e;
        std::vector<std::string> commands{"UID FETCH 10 (FLAGS)", "UID FETCH 20 (FLAGS)"};
        co_return co_await c->execute_all(std::move(commands), 2000ms);
      });
  ASSERT_TRUE(r.ok()) << r.err().message;
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].text, "first");
  EXPECT_EQ((*r)[1].text, "second");
  ASSERT_EQ((*r)[1].untagged.size(), 1u);
  EXPECT_EQ(imap::fetch_uid((*r)[1].untagged[0]), 20u);
  ASSERT_EQ((*r)[0].untagged.size(), 2u) << "its FETCH, and the EXISTS nobody asked for (the oldest gets it)";
  EXPECT_EQ(imap::fetch_uid((*r)[0].untagged[0]), 10u);
  EXPECT_EQ((*r)[0].untagged[1].name, "EXISTS");
}

TEST_F(imap_client_fake, CommandsWhoseAnswersCouldMixAreRefusedTogether) {
  scripted_server server({step::send("* OK [CAPABILITY IMAP4rev1] hi\r\n"), step::stall()});
  auto r = run<result<std::vector<imap::command_result>>>(
      [&](auto c) -> awaitable<result<std::vector<imap::command_result>>> {
        if (auto e = co_await c->open(plain(server.port())); !e.ok()) co_return e;
        std::vector<std::string> commands{"UID FETCH 1:5 (FLAGS)", "UID FETCH 5 (FLAGS)"};
        co_return co_await c->execute_all(std::move(commands), 500ms);
      });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::internal) << r.err().message;
}

TEST_F(imap_client_fake, AReplyToAnUnknownTagIsAProtocolError) {
  scripted_server server({step::send("* OK [CAPABILITY IMAP4rev1] hi\r\n"), step::read_line(),
                          step::send("Z0099 OK not yours\r\n"), step::stall()});
  auto e = run<error>([&](auto c) -> awaitable<error> {
    if (auto opened = co_await c->open(plain(server.port())); !opened.ok()) co_return opened;
    auto r = co_await c->noop(2000ms);
    EXPECT_FALSE(c->is_open()) << "a stream with a stranger's tag in it cannot be trusted";
    co_return r;
  });
  EXPECT_EQ(e.code, errc::unavailable);
  EXPECT_NE(e.message.find("unknown tag"), std::string::npos) << e.message;
}

// Ambiguous outcomes (issue #10): a mutation cut after its line reached the server may
// have been applied; one never written may not.
class imap_client_outcome : public imap_client_fake {
 protected:
  result<imap::command_result> execute_against(scripted_server& server, std::string command,
                                               std::chrono::milliseconds timeout = 2000ms) {
    return run<result<imap::command_result>>([&](auto c) -> awaitable<result<imap::command_result>> {
      if (auto e = co_await c->open(plain(server.port())); !e.ok()) co_return e;
      co_return co_await c->execute(command, timeout);
    });
  }
};

const char* plain_greeting = "* OK [CAPABILITY IMAP4rev1 UIDPLUS MOVE] hi\r\n";

TEST_F(imap_client_outcome, MoveCutAfterItWasWrittenIsAbortedOutcomeUnknown) {
  scripted_server server({step::send(plain_greeting), step::read_line(), step::close()});
  auto r = execute_against(server, "UID MOVE 7 Archive");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::aborted) << r.err().message;
  EXPECT_EQ(r.err().message.rfind("outcome unknown:", 0), 0u) << r.err().message;
  EXPECT_NE(r.err().message.find("UID MOVE"), std::string::npos) << r.err().message;
  EXPECT_NE(r.err().message.find("check the mailbox before retrying"), std::string::npos) << r.err().message;
  EXPECT_EQ(server.received(), std::vector<std::string>{"A0001 UID MOVE 7 Archive"});
}

TEST_F(imap_client_outcome, UnansweredStoreIsAbortedOutcomeUnknown) {
  scripted_server server({step::send(plain_greeting), step::read_line(), step::stall()});
  auto r = execute_against(server, "UID STORE 7 +FLAGS.SILENT (\\Deleted)", 300ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::aborted) << r.err().message;
  EXPECT_NE(r.err().message.find("within 300 ms"), std::string::npos) << "the cause is kept: " << r.err().message;
}

TEST_F(imap_client_outcome, ReadOnlyCommandCutStaysUnavailable) {
  scripted_server server({step::send(plain_greeting), step::read_line(), step::close()});
  auto r = execute_against(server, "UID FETCH 7 (FLAGS)");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unavailable) << r.err().message;
}

TEST_F(imap_client_outcome, MutationNeverWrittenStaysUnavailable) {
  // The connection is gone before the MOVE is sent: nothing reached the server.
  scripted_server server({step::send(plain_greeting), step::read_line(), step::close()});
  auto r = run<result<imap::command_result>>([&](auto c) -> awaitable<result<imap::command_result>> {
    if (auto e = co_await c->open(plain(server.port())); !e.ok()) co_return e;
    auto noop = co_await c->noop(2000ms);
    EXPECT_EQ(noop.code, errc::unavailable) << noop.message;
    co_return co_await c->execute("UID MOVE 7 Archive", 2000ms);
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::unavailable) << r.err().message;
  EXPECT_EQ(server.received(), std::vector<std::string>{"A0001 NOOP"});
}

TEST_F(imap_client_outcome, PipelineWithAWrittenMutationIsAborted) {
  // SEARCH answered, the connection drops before the STORE's reply: the STORE may have run.
  scripted_server server({step::send(plain_greeting), step::read_line(), step::read_line(),
                          step::send("* SEARCH 7\r\nA0001 OK done\r\n"), step::close()});
  auto r = run<result<std::vector<imap::command_result>>>(
      [&](auto c) -> awaitable<result<std::vector<imap::command_result>>> {
        if (auto e = co_await c->open(plain(server.port())); !e.ok()) co_return e;
        std::vector<std::string> commands{"UID SEARCH UID 7", "UID STORE 7 +FLAGS.SILENT (\\Seen)"};
        co_return co_await c->execute_all(std::move(commands), 2000ms);
      });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::aborted) << r.err().message;
  EXPECT_NE(r.err().message.find("UID STORE"), std::string::npos) << r.err().message;
}

TEST(imap_command, ChangesMailboxNamesTheMutations) {
  for (const char* c : {"UID MOVE 1 X", "uid store 1 +FLAGS (\\Seen)", "UID EXPUNGE 3", "EXPUNGE", "COPY 1 X",
                        "APPEND INBOX {3}", "CREATE X", "DELETE X", "RENAME X Y"}) {
    EXPECT_TRUE(imap::changes_mailbox(c)) << c;
  }
  for (const char* c : {"UID FETCH 1 (FLAGS)", "UID SEARCH UID 1", "SELECT INBOX", "NOOP", "LIST \"\" *", "UID",
                        "", "STORES 1", "IDLE"}) {
    EXPECT_FALSE(imap::changes_mailbox(c)) << c;
  }
}

}  // namespace
}  // namespace mailbroker::testing

namespace mailbroker::testing {
namespace {

// IDLE (RFC 2177): what ends it, and that DONE is always sent and answered.
class imap_client_idle : public imap_client_fake {
 protected:
  static bool exists(const imap::response& r) { return r.name == "EXISTS"; }

  // open() then idle(max_duration, timeout); `during` runs once IDLE is on.
  result<imap::command_result> idle_against(scripted_server& server, std::chrono::milliseconds max_duration,
                                            std::chrono::milliseconds timeout = 2000ms,
                                            std::function<void(imap::client&)> during = {}) {
    return run<result<imap::command_result>>([&](auto c) -> awaitable<result<imap::command_result>> {
      if (auto e = co_await c->open(plain(server.port())); !e.ok()) co_return e;
      if (during) {
        auto timer = std::make_shared<asio::steady_timer>(io_, 100ms);
        timer->async_wait([timer, c, during](error_code) { during(*c); });
      }
      co_return co_await c->idle(max_duration, timeout, exists);
    });
  }
};

const char* idle_greeting = "* OK [CAPABILITY IMAP4rev1 IDLE] fake ready\r\n";

TEST_F(imap_client_idle, NewMailEndsItWithDone) {
  scripted_server server({step::send(idle_greeting), step::read_line(), step::send("+ idling\r\n"),
                          step::send("* OK Still here\r\n* 4 EXISTS\r\n"), step::read_line(),
                          step::send("{tag} OK Idle completed\r\n")});
  const auto t0 = std::chrono::steady_clock::now();
  auto r = idle_against(server, 10s);
  ASSERT_TRUE(r.ok()) << r.err().message;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_EQ(r->status, "OK");
  ASSERT_EQ(r->untagged.size(), 1u) << "IDLE keeps only what ended it, not the '* OK Still here'";
  EXPECT_EQ(r->untagged[0].name, "EXISTS");
  EXPECT_EQ(server.received(), (std::vector<std::string>{"A0001 IDLE", "DONE"}));
}

TEST_F(imap_client_idle, EndsAfterMaxDurationSoItCanBeReissued) {
  scripted_server server({step::send(idle_greeting), step::read_line(), step::send("+ idling\r\n"),
                          step::send("* OK Still here\r\n"), step::read_line(),
                          step::send("{tag} OK Idle completed\r\n")});
  const auto t0 = std::chrono::steady_clock::now();
  auto r = idle_against(server, 300ms);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(r.ok()) << r.err().message;
  EXPECT_EQ(r->status, "OK");
  EXPECT_GE(took, 300ms);  // an untagged response that is not news does not end it
  EXPECT_LT(took, 2s);
  EXPECT_EQ(server.received().back(), "DONE");
}

TEST_F(imap_client_idle, InterruptEndsItAtOnce) {
  scripted_server server({step::send(idle_greeting), step::read_line(), step::send("+ idling\r\n"),
                          step::read_line(), step::send("{tag} OK Idle completed\r\n")});
  const auto t0 = std::chrono::steady_clock::now();
  auto r = idle_against(server, 10s, 2000ms, [](imap::client& c) { c.interrupt_idle(); });
  ASSERT_TRUE(r.ok()) << r.err().message;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_EQ(server.received().back(), "DONE");
}

TEST_F(imap_client_idle, RefusalIsAResultNotAnError) {
  scripted_server server({step::send(idle_greeting), step::read_line(), step::send("{tag} BAD IDLE not here\r\n")});
  auto r = idle_against(server, 10s);
  ASSERT_TRUE(r.ok()) << r.err().message;
  EXPECT_EQ(r->status, "BAD");
}

TEST_F(imap_client_idle, UnansweredDoneTimesOut) {
  scripted_server server({step::send(idle_greeting), step::read_line(), step::send("+ idling\r\n"),
                          step::read_line(), step::stall()});
  auto r = idle_against(server, 100ms, 300ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::deadline_exceeded);
  EXPECT_NE(r.err().message.find("DONE"), std::string::npos) << r.err().message;
}

}  // namespace
}  // namespace mailbroker::testing
