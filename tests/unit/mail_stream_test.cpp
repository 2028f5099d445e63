// net::mail_stream against in-process servers: plain connections carry no TLS state,
// TLS verifies chain and host name on shared contexts, and running out of file
// descriptors is reported as such, with a transient code.
#include "net/mail_stream.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <functional>
#include <optional>
#include <vector>

#include "fakes/https_test_server.hpp"
#include "fakes/scripted_server.hpp"
#include "net/fd_budget.hpp"
#include "net/read_buffer.hpp"
#include "net/tls_context.hpp"

namespace mailbroker::net {
namespace {

using mailbroker::testing::canned_exchange;
using mailbroker::testing::https_test_server;
using mailbroker::testing::script_step;
using mailbroker::testing::scripted_server;
using mailbroker::testing::test_pki;
using namespace std::chrono_literals;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Runs `body` as a coroutine on a fresh io_context until it finishes (or 20 s pass).
void run(std::function<awaitable<void>(asio::io_context&)> body) {
  asio::io_context io;
  bool done = false;
  asio::co_spawn(
      io, [&]() -> awaitable<void> {
        co_await body(io);
        done = true;
      },
      asio::detached);
  io.run_for(20s);
  EXPECT_TRUE(done) << "the test coroutine did not finish";
}

std::shared_ptr<asio::ssl::context> test_ca_context() {
  auto ctx = make_client_tls_context({test_pki::get().ca_file, true});
  EXPECT_TRUE(ctx.ok()) << ctx.err().message;
  return ctx.ok() ? ctx.value() : nullptr;
}

awaitable<std::string> read_until_close(mail_stream& s) {
  std::string got;
  std::array<char, 512> chunk{};
  for (;;) {
    error_code ec;
    const std::size_t n = co_await s.read_some(asio::buffer(chunk), ec);
    got.append(chunk.data(), n);
    if (ec) co_return got;
  }
}

// ---- plain connections carry no TLS machinery --------------------------------------

TEST(mail_stream, PlainConnectionAllocatesNoTlsState) {
  scripted_server server({script_step::send("* OK hello\r\n"), script_step::read_line(),
                          script_step::send("a OK bye\r\n"), script_step::close()});
  run([&](asio::io_context& io) -> awaitable<void> {
    mail_stream s(io.get_executor(), test_ca_context());
    EXPECT_FALSE(s.tls_allocated());
    error e = co_await s.connect("127.0.0.1", server.port(), 5s);
    EXPECT_TRUE(e.ok()) << e.message;
    error_code ec;
    co_await s.write("a LOGOUT\r\n", 5s, ec);
    EXPECT_FALSE(ec) << ec.message();
    const std::string got = co_await read_until_close(s);
    EXPECT_EQ(got, "* OK hello\r\na OK bye\r\n");
    EXPECT_FALSE(s.tls_allocated());
    EXPECT_FALSE(s.tls_active());
    EXPECT_EQ(s.bytes_out(), 10u);
    EXPECT_EQ(s.bytes_in(), got.size());
    co_await s.shutdown(1s);
    EXPECT_FALSE(s.is_open());
  });
  EXPECT_EQ(server.received(), std::vector<std::string>{"a LOGOUT"});
}

TEST(mail_stream, PlainStreamNeedsNoContextAndRefusesTlsWithout) {
  scripted_server server({script_step::send("* OK hello\r\n"), script_step::stall()});
  run([&](asio::io_context& io) -> awaitable<void> {
    mail_stream s(io.get_executor(), nullptr);
    error e = co_await s.connect("127.0.0.1", server.port(), 5s);
    EXPECT_TRUE(e.ok()) << e.message;
    e = co_await s.start_tls("localhost", true, 5s);
    EXPECT_EQ(e.code, errc::internal);
    EXPECT_FALSE(s.tls_allocated());
    s.close();
  });
}

// ---- TLS: the handshake creates the state; verification on a shared context ----------

TEST(mail_stream, TlsToTheRightNameVerifiesSendsSniAndCarriesData) {
  https_test_server server({canned_exchange::respond(200, "text/plain", "hi")});
  run([&](asio::io_context& io) -> awaitable<void> {
    mail_stream s(io.get_executor(), test_ca_context());
    error e = co_await s.connect("127.0.0.1", server.port(), 5s);
    EXPECT_TRUE(e.ok()) << e.message;
    EXPECT_FALSE(s.tls_allocated());  // connected, TLS not started yet (the STARTTLS shape)
    e = co_await s.start_tls("localhost", true, 5s);
    EXPECT_TRUE(e.ok()) << e.message;
    EXPECT_TRUE(s.tls_allocated());
    EXPECT_TRUE(s.tls_active());
    error_code ec;
    co_await s.write("GET /x HTTP/1.1\r\nHost: localhost\r\n\r\n", 5s, ec);
    EXPECT_FALSE(ec) << ec.message();
    const std::string got = co_await read_until_close(s);  // ends in stream_truncated: no close_notify
    EXPECT_TRUE(contains(got, "HTTP/1.1 200")) << got;
    EXPECT_TRUE(contains(got, "\r\n\r\nhi")) << got;
    co_await s.shutdown(1s);
    EXPECT_FALSE(s.is_open());
  });
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].sni, "localhost");
  EXPECT_EQ(requests[0].target, "/x");
}

TEST(mail_stream, SharedContextStillChecksTheHostNamePerConnection) {
  // Wrong name, right name, wrong name again on one shared context: a host name set for
  // one connection must not leak into the context or the next connection.
  https_test_server server({canned_exchange::silent(), canned_exchange::silent(), canned_exchange::silent()});
  auto ctx = test_ca_context();
  const std::vector<std::string> names = {"wrong.example.org", "localhost", "mail.localhost"};
  run([&](asio::io_context& io) -> awaitable<void> {
    for (const std::string& name : names) {
      mail_stream s(io.get_executor(), ctx);
      error e = co_await s.connect("127.0.0.1", server.port(), 5s);
      EXPECT_TRUE(e.ok()) << e.message;
      e = co_await s.start_tls(name, true, 5s);
      if (name == "localhost") {
        EXPECT_TRUE(e.ok()) << e.message;
      } else {
        EXPECT_EQ(e.code, errc::failed_precondition) << name << ": " << e.message;
        EXPECT_TRUE(contains(e.message, "did not verify")) << e.message;
        EXPECT_TRUE(contains(e.message, name)) << e.message;
      }
      s.close();
    }
  });
}

TEST(mail_stream, UntrustedCaFailsVerificationAndUnverifiedContextAccepts) {
  https_test_server server({canned_exchange::silent(), canned_exchange::silent()});
  auto other = make_client_tls_context({test_pki::get().other_ca_file, true});
  auto unverified = make_client_tls_context({std::string(), false});
  ASSERT_TRUE(other.ok() && unverified.ok());
  run([&](asio::io_context& io) -> awaitable<void> {
    mail_stream untrusted(io.get_executor(), other.value());
    error e = co_await untrusted.connect("127.0.0.1", server.port(), 5s);
    EXPECT_TRUE(e.ok()) << e.message;
    e = co_await untrusted.start_tls("localhost", true, 5s);
    EXPECT_EQ(e.code, errc::failed_precondition) << e.message;
    untrusted.close();

    mail_stream insecure(io.get_executor(), unverified.value());
    e = co_await insecure.connect("127.0.0.1", server.port(), 5s);
    EXPECT_TRUE(e.ok()) << e.message;
    e = co_await insecure.start_tls("wrong.example.org", false, 5s);
    EXPECT_TRUE(e.ok()) << e.message;
    insecure.close();
  });
}

TEST(mail_stream, CloseDuringTheTlsHandshakeAbortsItAtOnce) {
  // A server that never answers the ClientHello: closing the stream (a session shutting
  // down) must end start_tls() now, not at its timeout.
  scripted_server server({script_step::stall()});
  run([&](asio::io_context& io) -> awaitable<void> {
    mail_stream s(io.get_executor(), test_ca_context());
    error e = co_await s.connect("127.0.0.1", server.port(), 5s);
    EXPECT_TRUE(e.ok()) << e.message;
    std::optional<error> result;
    std::optional<std::chrono::steady_clock::time_point> finished;
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          result = co_await s.start_tls("localhost", true, 30s);
          finished = std::chrono::steady_clock::now();
        },
        asio::detached);
    asio::steady_timer wait(io, 100ms);
    co_await wait.async_wait(use_awaitable);
    EXPECT_FALSE(result.has_value());
    EXPECT_TRUE(s.tls_allocated());
    const auto closed_at = std::chrono::steady_clock::now();
    s.close();
    wait.expires_after(50ms);
    co_await wait.async_wait(use_awaitable);
    EXPECT_TRUE(result.has_value());
    if (!result) co_return;
    EXPECT_LT(*finished - closed_at, 50ms);
    EXPECT_EQ(result->code, errc::unavailable) << result->message;
    EXPECT_FALSE(s.tls_active());
    EXPECT_FALSE(s.is_open());
  });
}

// ---- out of file descriptors -------------------------------------------------------

// Lowers the soft RLIMIT_NOFILE to a little above what is open now and fills the rest,
// so the next socket()/open() fails with EMFILE; undoes both on destruction.
class fd_exhaustion {
 public:
  fd_exhaustion() {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    rlimit low = saved_;
    low.rlim_cur = static_cast<rlim_t>(fd_budget::open_fds() + 16);
    if (::setrlimit(RLIMIT_NOFILE, &low) != 0) return;
    for (;;) {
      const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) break;
      filler_.push_back(fd);
    }
  }
  ~fd_exhaustion() {
    for (int fd : filler_) ::close(fd);
    ::setrlimit(RLIMIT_NOFILE, &saved_);
  }
  bool active() const {
    if (filler_.empty()) return false;
    const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) ::close(fd);
    return fd < 0 && errno == EMFILE;
  }

 private:
  rlimit saved_{};
  std::vector<int> filler_;
};

TEST(mail_stream, ConnectOutOfDescriptorsSaysSoWithATransientCode) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = acceptor.local_endpoint().port();
  std::optional<error> result;
  std::optional<error> after;
  {
    // Warm Asio's resolver thread and reactor first: they are not what is under test.
    mail_stream warm(io.get_executor(), nullptr);
    asio::co_spawn(io, [&]() -> awaitable<void> { co_await warm.connect("127.0.0.1", port, 5s); }, asio::detached);
    io.run_for(5s);
    io.restart();
  }
  {
    fd_exhaustion exhausted;
    ASSERT_TRUE(exhausted.active()) << "could not exhaust descriptors for the test";
    mail_stream s(io.get_executor(), nullptr);
    asio::co_spawn(io, [&]() -> awaitable<void> { result = co_await s.connect("127.0.0.1", port, 5s); },
                   asio::detached);
    io.run_for(10s);
    io.restart();
  }
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->code, errc::resource_exhausted) << result->message;
  EXPECT_TRUE(contains(result->message, "out of file descriptors (EMFILE)")) << result->message;
  EXPECT_TRUE(contains(result->message, "raise LimitNOFILE or lower max-sessions")) << result->message;
  EXPECT_TRUE(contains(result->message, " open, limit ")) << result->message;
  EXPECT_FALSE(contains(result->message, "cannot connect")) << result->message;
  // Resolving a literal needs no descriptor: it is socket() that failed.
  EXPECT_TRUE(contains(result->message, "(connecting to 127.0.0.1:" + std::to_string(port) + ")")) << result->message;

  // Transient: with descriptors back, the same connect works.
  mail_stream s(io.get_executor(), nullptr);
  asio::co_spawn(io, [&]() -> awaitable<void> { after = co_await s.connect("127.0.0.1", port, 5s); }, asio::detached);
  io.run_for(5s);
  ASSERT_TRUE(after.has_value());
  EXPECT_TRUE(after->ok()) << after->message;
}

TEST(mail_stream, CaFileUnreadableForLackOfDescriptorsIsNotABadCaFile) {
  const std::string ca_file = test_pki::get().ca_file;
  std::optional<result<std::shared_ptr<asio::ssl::context>>> built;
  error check = error::none();
  {
    fd_exhaustion exhausted;
    ASSERT_TRUE(exhausted.active()) << "could not exhaust descriptors for the test";
    built.emplace(build_client_tls_context({ca_file, true}));
    check = fd_budget::check(fd_budget::per_session);
  }
  ASSERT_FALSE(built->ok());
  EXPECT_EQ(built->err().code, errc::resource_exhausted) << built->err().message;
  EXPECT_TRUE(contains(built->err().message, "out of file descriptors (EMFILE)")) << built->err().message;
  EXPECT_FALSE(contains(built->err().message, "cannot load CA file")) << built->err().message;
  EXPECT_EQ(check.code, errc::resource_exhausted);
  EXPECT_TRUE(contains(check.message, "raise LimitNOFILE")) << check.message;

  EXPECT_TRUE(build_client_tls_context({ca_file, true}).ok());
  EXPECT_TRUE(fd_budget::check(fd_budget::per_session).ok());
}

// ---- fd_budget ----------------------------------------------------------------------

TEST(fd_budget, CountsOpenDescriptorsExactly) {
  const std::size_t before = fd_budget::open_fds();
  std::vector<int> fds;
  for (int i = 0; i < 10; ++i) fds.push_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  EXPECT_EQ(fd_budget::open_fds(), before + 10);
  for (int fd : fds) ::close(fd);
  EXPECT_EQ(fd_budget::open_fds(), before);
  EXPECT_GT(fd_budget::limit(), before);
  EXPECT_EQ(fd_budget::needed_for_sessions(1000), 2000u + fd_budget::reserve);
}

TEST(fd_budget, SessionCapacityFollowsTheSoftLimit) {
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = saved;
  low.rlim_cur = 1024;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  EXPECT_EQ(fd_budget::session_capacity(), (1024u - fd_budget::reserve) / fd_budget::per_session);
  ::setrlimit(RLIMIT_NOFILE, &saved);
}

TEST(fd_budget, RaisesTheSoftLimitTowardTheHardOneButNeverLowersIt) {
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = saved;
  low.rlim_cur = 512;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);

  auto a = fd_budget::raise_soft_limit(600);
  EXPECT_TRUE(a.failure.empty()) << a.failure;
  EXPECT_EQ(a.before, 512u);
  EXPECT_EQ(a.after, 600u);
  EXPECT_TRUE(a.enough());
  EXPECT_EQ(fd_budget::limit(), 600u);

  a = fd_budget::raise_soft_limit(550);  // already enough: unchanged
  EXPECT_EQ(a.after, 600u);

  if (saved.rlim_max != RLIM_INFINITY) {
    a = fd_budget::raise_soft_limit(static_cast<std::size_t>(saved.rlim_max) + 1000);
    EXPECT_EQ(a.after, static_cast<std::size_t>(saved.rlim_max));  // capped at the hard limit
    EXPECT_FALSE(a.enough());
  }
  ::setrlimit(RLIMIT_NOFILE, &saved);
}

TEST(fd_budget, RecognisesEmfileAndEnfileInAnyCategory) {
  EXPECT_TRUE(fd_budget::is_exhaustion(asio::error::no_descriptors));
  EXPECT_TRUE(fd_budget::is_exhaustion(error_code(EMFILE, boost::system::system_category())));
  EXPECT_TRUE(fd_budget::is_exhaustion(error_code(ENFILE, boost::system::generic_category())));
  EXPECT_FALSE(fd_budget::is_exhaustion(asio::error::connection_refused));
  EXPECT_FALSE(fd_budget::is_exhaustion(error_code()));
  EXPECT_TRUE(contains(fd_budget::exhaustion_message(ENFILE), "ENFILE"));
}

// ---- read_buffer ---------------------------------------------------------------------

TEST(read_buffer, SmallWhileIdleGrowsWhileReadsFillItShrinksBack) {
  read_buffer buf("leftover");
  EXPECT_EQ(buf.data(), "leftover");
  EXPECT_EQ(buf.next_read_size(), read_buffer::min_size);
  std::size_t size = read_buffer::min_size;
  while (size < read_buffer::max_size) {  // a download: every read fills the buffer
    auto b = buf.prepare();
    EXPECT_EQ(b.size(), size);
    EXPECT_EQ(buf.commit(b.size()).size(), size);
    size *= 2;
  }
  EXPECT_EQ(buf.next_read_size(), read_buffer::max_size);
  buf.commit(buf.prepare().size());
  EXPECT_EQ(buf.next_read_size(), read_buffer::max_size);  // capped
  EXPECT_GE(buf.capacity(), read_buffer::max_size);

  std::memcpy(buf.prepare().data(), "* 3 EXISTS\r\n", 12);
  EXPECT_EQ(buf.commit(12), "* 3 EXISTS\r\n");  // a short read: back to small
  EXPECT_EQ(buf.next_read_size(), read_buffer::min_size);
  EXPECT_EQ(buf.prepare().size(), read_buffer::min_size);
  EXPECT_LT(buf.capacity(), 2 * read_buffer::min_size);  // the big block went back to the heap
}

}  // namespace
}  // namespace mailbroker::net
