// A hostile or broken IMAP server cannot exhaust the daemon (issue #10): floods of
// untagged data while a command waits or during IDLE, one legal response of 1-byte atoms,
// repeated big literals — each ends with a clear error (or, for IDLE, costs nothing) and a
// peak RSS far below what the server sent. And a server that stops answering after login
// is noticed within the session's dead-connection bound.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <fstream>
#include <future>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "fakes/scripted_server.hpp"
#include "protocol/imap/client.hpp"
#include "session/session.hpp"

namespace mailbroker::testing {
namespace {

using step = script_step;
using namespace std::chrono_literals;
constexpr std::size_t mib = 1024 * 1024;

// Peak resident memory of this process since the last reset_peak_rss(), in bytes
// (VmHWM in /proc/self/status).
std::size_t status_kib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) return std::stoul(line.substr(field.size() + 1));
  }
  return 0;
}
std::size_t peak_rss() { return status_kib("VmHWM") * 1024; }
std::size_t current_rss() { return status_kib("VmRSS") * 1024; }
// Makes VmHWM start again from the current RSS (Linux: clear_refs value 5).
bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out) && peak_rss() <= current_rss() + 4 * mib;
}

class imap_hostile : public ::testing::Test {
 protected:
  // Small budgets: a flood is cut off after a few MiB, not after 64.
  static imap::client_limits limits() {
    imap::client_limits l;
    l.parser.max_parsed_bytes = 8 * mib;
    l.max_pending_bytes = 8 * mib;
    return l;
  }

  // Runs `body` with a fresh client; returns its result and how much the peak RSS rose
  // above the RSS before it started.
  template <class T>
  std::pair<T, std::size_t> run_measured(std::function<awaitable<T>(std::shared_ptr<imap::client>)> body) {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    auto c = std::make_shared<imap::client>(io_.get_executor(), ctx, limits());
    std::optional<T> out;
    asio::co_spawn(
        io_,
        [&]() -> awaitable<void> {
          out = co_await body(c);
          c->close(error{errc::cancelled, "test over"});
          io_.stop();
        },
        asio::detached);
    if (!reset_peak_rss()) ADD_FAILURE() << "cannot reset VmHWM through /proc/self/clear_refs";
    const std::size_t before = current_rss();
    io_.run_for(20s);
    const std::size_t peak = peak_rss();
    EXPECT_TRUE(out.has_value()) << "the client did not finish";
    return {out ? std::move(*out) : T(error{errc::internal, "did not finish"}), peak > before ? peak - before : 0};
  }

  imap::connect_options plain(std::uint16_t port) {
    imap::connect_options o;
    o.host = "127.0.0.1";
    o.port = port;
    o.tls = imap::tls_mode::plain;
    o.timeout = 2000ms;
    return o;
  }

  asio::io_context io_;
};

constexpr const char* greeting = "* OK [CAPABILITY IMAP4rev1 IDLE] hi\r\n";

TEST_F(imap_hostile, UntaggedFloodWhileACommandWaitsDropsTheConnection) {
  // 64 MiB of "* 1 EXISTS": unbounded, some 1.5 GiB once parsed.
  const std::uint64_t copies = 64 * mib / 12;
  scripted_server server({step::send(greeting), step::read_line(), step::flood("* 1 EXISTS\r\n", copies),
                          step::send("{tag} OK done\r\n"), step::stall()});
  auto [e, rise] = run_measured<error>([&](auto c) -> awaitable<error> {
    if (auto opened = co_await c->open(plain(server.port())); !opened.ok()) co_return opened;
    auto r = co_await c->execute("NOOP", 15000ms);
    EXPECT_FALSE(c->is_open());
    co_return r ? error::none() : r.err();
  });
  EXPECT_EQ(e.code, errc::resource_exhausted) << e.message;
  EXPECT_NE(e.message.find("more than 8 MiB of untagged responses"), std::string::npos) << e.message;
  EXPECT_LT(server.flooded_bytes(), copies * 12) << "the client must drop the connection, not read it all";
  EXPECT_LT(rise, 40 * mib) << "peak RSS rose by " << rise / mib << " MiB";
}

TEST_F(imap_hostile, FloodDuringIdleKeepsNothingItDoesNotNeed) {
  // 8 MiB of FETCH updates nobody reads (~300K responses: ~100 MiB if kept), then news.
  const std::string update = "* 1 FETCH (FLAGS (\\Seen))\r\n";
  const std::uint64_t copies = 8 * mib / update.size();
  scripted_server server({step::send(greeting), step::read_line(), step::send("+ idling\r\n"),
                          step::flood(update, copies), step::send("* 2 EXISTS\r\n"), step::read_line(),
                          step::send("{tag} OK IDLE done\r\n"), step::stall()});
  auto [r, rise] = run_measured<result<imap::command_result>>([&](auto c) -> awaitable<result<imap::command_result>> {
    if (auto opened = co_await c->open(plain(server.port())); !opened.ok()) co_return opened;
    co_return co_await c->idle(60s, 15000ms, [](const imap::response& u) { return u.name == "EXISTS"; });
  });
  ASSERT_TRUE(r.ok()) << r.err().message;
  EXPECT_EQ(r->status, "OK");
  ASSERT_EQ(r->untagged.size(), 1u) << "only the response that ended IDLE is kept";
  EXPECT_EQ(r->untagged[0].name, "EXISTS");
  EXPECT_EQ(server.flooded_bytes(), copies * update.size());
  EXPECT_EQ(server.received().back(), "DONE");
  EXPECT_LT(rise, 40 * mib) << "peak RSS rose by " << rise / mib << " MiB";
}

TEST_F(imap_hostile, OneHugeResponseOfTinyAtomsIsRefusedBeforeItIsParsed) {
  // One legal response: lines of 1-byte atoms joined by empty literals, 64 MiB in all
  // (the default max_response_bytes): ~4 GiB once parsed without a bound.
  std::string line;
  while (line.size() < 60000) line += " a";
  line += " {0}\r\n";
  const std::uint64_t copies = 64 * mib / line.size() - 1;
  scripted_server server({step::send(greeting), step::read_line(), step::send("* 1 FETCH (UID 1 X ({0}\r\n"),
                          step::flood(line, copies), step::send("))\r\n{tag} OK done\r\n"), step::stall()});
  auto [e, rise] = run_measured<error>([&](auto c) -> awaitable<error> {
    if (auto opened = co_await c->open(plain(server.port())); !opened.ok()) co_return opened;
    auto r = co_await c->execute("UID FETCH 1 (X)", 15000ms);
    co_return r ? error::none() : r.err();
  });
  EXPECT_EQ(e.code, errc::unavailable) << e.message;
  EXPECT_NE(e.message.find("more than max_parsed_bytes (8388608) once parsed"), std::string::npos) << e.message;
  EXPECT_LT(server.flooded_bytes(), copies * line.size());
  EXPECT_LT(rise, 40 * mib) << "peak RSS rose by " << rise / mib << " MiB";
}

TEST_F(imap_hostile, RepeatedBigLiteralsAreCutOffAtThePendingBudget) {
  // 24 FETCH responses of a 3 MiB literal each (72 MiB), all for one command.
  const std::string response = "* 1 FETCH (UID 1 BODY[] {" + std::to_string(3 * mib) + "}\r\n" +
                               std::string(3 * mib, 'x') + ")\r\n";
  scripted_server server({step::send(greeting), step::read_line(), step::flood(response, 24),
                          step::send("{tag} OK done\r\n"), step::stall()});
  auto [e, rise] = run_measured<error>([&](auto c) -> awaitable<error> {
    if (auto opened = co_await c->open(plain(server.port())); !opened.ok()) co_return opened;
    auto r = co_await c->execute("UID FETCH 1 (BODY.PEEK[])", 15000ms);
    co_return r ? error::none() : r.err();
  });
  EXPECT_EQ(e.code, errc::resource_exhausted) << e.message;
  EXPECT_NE(e.message.find("more than 8 MiB of untagged responses"), std::string::npos) << e.message;
  EXPECT_LT(server.flooded_bytes(), 24 * response.size());
  // Held: < 8 MiB of responses, one being read (3 MiB raw + 3 parsed), the fake's copy.
  EXPECT_LT(rise, 48 * mib) << "peak RSS rose by " << rise / mib << " MiB";
}

TEST_F(imap_hostile, PendingBudgetIsReturnedWhenACommandEnds) {
  scripted_server server({step::send(greeting), step::read_line(),
                          step::send("* 1 FETCH (UID 1 FLAGS ())\r\n{tag} OK done\r\n"), step::read_line(),
                          step::send("{tag} OK done\r\n"), step::stall()});
  std::size_t pending = 1;
  auto [e, rise] = run_measured<error>([&](auto c) -> awaitable<error> {
    if (auto opened = co_await c->open(plain(server.port())); !opened.ok()) co_return opened;
    auto r = co_await c->execute("UID FETCH 1 (FLAGS)", 2000ms);
    EXPECT_TRUE(r.ok() && r->untagged.size() == 1u);
    auto again = co_await c->execute("NOOP", 2000ms);
    EXPECT_TRUE(again.ok());
    pending = c->pending_bytes();
    co_return error::none();
  });
  EXPECT_TRUE(e.ok()) << e.message;
  EXPECT_EQ(pending, 0u);
  (void)rise;
}

// A server that answers the login and then nothing (a hung process: its kernel still
// acknowledges, so only the keepalive NOOP can tell): the session leaves READY within
// keepalive + dead_connection, not keepalive + command_timeout.
TEST(session_dead_connection, UnansweredKeepaliveIsNoticedWithinTheDeadConnectionBound) {
  scripted_server server({step::send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] hi\r\n"), step::read_line(),
                          step::send("{tag} OK [CAPABILITY IMAP4rev1] logged in\r\n"), step::stall()});
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::thread runner([&io] { io.run(); });

  session::session_spec spec;
  spec.proto = session::protocol::imap;
  spec.host = "127.0.0.1";
  spec.port = server.port();
  spec.tls = session::tls_mode::plain;
  spec.auth = session::auth_method::basic;
  spec.username = "u";
  spec.password = secrets::secret_ref{secrets::secret_ref::source::inline_value, "p"};
  spec.connect_timeout = 2000ms;
  spec.keepalive = 1s;  // below the spec minimum: only a test may
  spec.poll_interval = 1s;
  session::session_settings settings;
  settings.command_timeout = 30s;
  settings.dead_connection = 2s;

  std::mutex mutex;
  std::optional<std::chrono::steady_clock::time_point> ready_at, left_at;
  std::string why;
  std::promise<void> left;
  auto on_event = [&](const session::status_event& ev) {
    std::lock_guard lock(mutex);
    const auto now = std::chrono::steady_clock::now();
    if (ev.status.state == session::session_state::ready && !ready_at) ready_at = now;
    if (ready_at && !left_at && ev.status.state != session::session_state::ready) {
      left_at = now;
      why = ev.reason;
      left.set_value();
    }
  };
  auto s = std::make_shared<session::session>(io.get_executor(), "dead", spec, settings, on_event,
                                              [](const std::string&) {});
  s->start();
  const bool noticed = left.get_future().wait_for(10s) == std::future_status::ready;
  std::promise<void> stopped;
  s->stop("test over", [&stopped] { stopped.set_value(); });
  stopped.get_future().wait_for(5s);
  work.reset();
  io.stop();
  runner.join();

  ASSERT_TRUE(noticed) << "the session still says READY 10 s after the server stopped answering";
  std::lock_guard lock(mutex);
  const auto took = *left_at - *ready_at;
  EXPECT_LT(took, 4s) << "keepalive 1 s (+10 % jitter) + dead_connection 2 s; took "
                      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  EXPECT_GE(took, 2s) << "the NOOP must have waited for the bound";
  EXPECT_NE(why.find("NOOP"), std::string::npos) << why;
}

// Mail sockets carry TCP keepalive and TCP_USER_TIMEOUT derived from the bound, so a
// blackholed route (no ACKs at all) is noticed by the kernel within it, even during IDLE.
TEST(mail_stream_dead_peer, KeepaliveAndUserTimeoutFollowTheBound) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  const auto port = acceptor.local_endpoint().port();
  auto check = [&](std::chrono::seconds bound, auto&& verify) {
    net::mail_stream stream(io.get_executor(), nullptr);
    stream.set_dead_peer_timeout(bound);
    std::optional<error> connected;
    asio::co_spawn(
        io, [&]() -> awaitable<void> { connected = co_await stream.connect("127.0.0.1", port, 2s); },
        asio::detached);
    io.restart();
    io.run_for(3s);
    ASSERT_TRUE(connected && connected->ok());
    verify(stream.native_handle());
  };
  auto get = [](int fd, int level, int name) {
    int v = -1;
    socklen_t len = sizeof v;
    EXPECT_EQ(::getsockopt(fd, level, name, &v, &len), 0);
    return v;
  };
  check(15s, [&](int fd) {
    EXPECT_EQ(get(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
    const int idle = get(fd, IPPROTO_TCP, TCP_KEEPIDLE);
    const int interval = get(fd, IPPROTO_TCP, TCP_KEEPINTVL);
    const int count = get(fd, IPPROTO_TCP, TCP_KEEPCNT);
    EXPECT_EQ(idle, 5);
    EXPECT_LE(idle + interval * count, 15);
    EXPECT_GE(count, 1);
    EXPECT_EQ(get(fd, IPPROTO_TCP, TCP_USER_TIMEOUT), 15000);
  });
  check(2s, [&](int fd) {
    EXPECT_LE(get(fd, IPPROTO_TCP, TCP_KEEPIDLE) + get(fd, IPPROTO_TCP, TCP_KEEPINTVL) * get(fd, IPPROTO_TCP, TCP_KEEPCNT), 2);
    EXPECT_EQ(get(fd, IPPROTO_TCP, TCP_USER_TIMEOUT), 2000);
  });
  check(0s, [&](int fd) { EXPECT_EQ(get(fd, SOL_SOCKET, SO_KEEPALIVE), 0) << "0 leaves the system default"; });
}

}  // namespace
}  // namespace mailbroker::testing
