// net::tls_socket against an in-process TLS server with a script (blocking OpenSSL on
// its own thread): verification, timeouts, close() during the handshake, big transfers
// across WANT_READ/WANT_WRITE, cancel() of a pending read, end of stream, and a TLS 1.3
// KeyUpdate and a TLS 1.2 renegotiation while a read is pending and writes go out.
#include "net/tls_socket.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "fakes/https_test_server.hpp"
#include "fakes/scripted_server.hpp"
#include "fakes/tls_script_server.hpp"
#include "net/tls_context.hpp"

namespace mailbroker::net {
namespace {

using mailbroker::testing::script_step;
using mailbroker::testing::scripted_server;
using mailbroker::testing::test_pki;
using mailbroker::testing::tls_script_connection;
using mailbroker::testing::tls_script_server;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

void run(std::function<awaitable<void>(asio::io_context&)> body) {
  asio::io_context io;
  bool done = false;
  asio::co_spawn(
      io, [&]() -> awaitable<void> {
        co_await body(io);
        done = true;
      },
      asio::detached);
  io.run_for(30s);
  EXPECT_TRUE(done) << "the test coroutine did not finish";
}

std::shared_ptr<asio::ssl::context> context_trusting(const std::string& ca_file) {
  auto ctx = make_client_tls_context({ca_file, true});
  EXPECT_TRUE(ctx.ok()) << ctx.err().message;
  return ctx.ok() ? ctx.value() : nullptr;
}
std::shared_ptr<asio::ssl::context> test_ca_context() { return context_trusting(test_pki::get().ca_file); }

// A tls_socket on a fresh connection to 127.0.0.1:port (the context must outlive it).
awaitable<std::unique_ptr<tls_socket>> connect_tls(asio::io_context& io, std::uint16_t port,
                                                   std::shared_ptr<asio::ssl::context> ctx) {
  asio::ip::tcp::socket socket(io);
  error_code ec;
  co_await socket.async_connect({asio::ip::make_address("127.0.0.1"), port},
                                asio::redirect_error(use_awaitable, ec));
  EXPECT_FALSE(ec) << ec.message();
  co_return std::make_unique<tls_socket>(std::move(socket), ctx->native_handle());
}

// Reads until `want` bytes arrived or the stream ends; `ec_r` gets the end's error.
awaitable<std::string> read_up_to(tls_socket& tls, std::size_t want, error_code& ec_r, std::size_t chunk = 1000) {
  std::string got;
  std::string buffer(chunk, '\0');
  while (got.size() < want) {
    const std::size_t n = co_await tls.read_some(asio::buffer(buffer), ec_r);
    got.append(buffer.data(), n);
    if (ec_r) break;
  }
  co_return got;
}

std::string pattern(std::size_t size, char seed) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>(seed + (i * 7) % 61);
  return s;
}

// The server thread finishes its script a moment after the client saw its last bytes.
bool script_finishes(const tls_script_server& server) {
  for (int i = 0; i < 300 && !server.script_done(); ++i) std::this_thread::sleep_for(10ms);
  return server.script_done();
}

awaitable<void> sleep_for(asio::io_context& io, steady::duration d) {
  asio::steady_timer timer(io, d);
  co_await timer.async_wait(use_awaitable);
}

// ---- handshake and verification -------------------------------------------------------

TEST(tls_socket, HandshakeVerifiesSendsSniAndCarriesDataUntilCloseNotify) {
  tls_script_server server([](tls_script_connection& c) {
    const std::string line = c.read_line();
    c.write("echo: " + line);
  });
  auto ctx = test_ca_context();
  run([&](asio::io_context& io) -> awaitable<void> {
    auto tls = co_await connect_tls(io, server.port(), ctx);
    error e = co_await tls->handshake("localhost", true, 5s);
    EXPECT_TRUE(e.ok()) << e.message;
    EXPECT_NE(tls->native_handle(), nullptr);
    if (tls->native_handle() == nullptr) co_return;
    EXPECT_TRUE(SSL_is_init_finished(tls->native_handle()));
    error_code ec;
    EXPECT_EQ(co_await tls->write("hello\n", 5s, ec), 6u);
    EXPECT_FALSE(ec) << ec.message();
    const std::string got = co_await read_up_to(*tls, 1000, ec);
    EXPECT_EQ(got, "echo: hello\n");
    EXPECT_EQ(ec, asio::error::eof) << ec.message();  // the server sent close_notify
    co_await tls->shutdown(1s);
    EXPECT_FALSE(tls->is_open());
  });
  EXPECT_EQ(server.sni(), "localhost");
  EXPECT_TRUE(script_finishes(server));
}

TEST(tls_socket, UntrustedChainIsFailedPrecondition) {
  tls_script_server server([](tls_script_connection&) {});
  auto ctx = context_trusting(test_pki::get().other_ca_file);
  run([&](asio::io_context& io) -> awaitable<void> {
    auto tls = co_await connect_tls(io, server.port(), ctx);
    error e = co_await tls->handshake("localhost", true, 5s);
    EXPECT_EQ(e.code, errc::failed_precondition) << e.message;
    EXPECT_TRUE(contains(e.message, "did not verify")) << e.message;
    EXPECT_TRUE(contains(e.message, "server.tls.ca_file")) << e.message;
  });
}

TEST(tls_socket, HostNameMismatchIsFailedPreconditionAndIpLiteralsAreChecked) {
  auto ctx = test_ca_context();
  {
    tls_script_server server([](tls_script_connection&) {});
    run([&](asio::io_context& io) -> awaitable<void> {
      auto tls = co_await connect_tls(io, server.port(), ctx);
      error e = co_await tls->handshake("wrong.example.org", true, 5s);
      EXPECT_EQ(e.code, errc::failed_precondition) << e.message;
      EXPECT_TRUE(contains(e.message, "'wrong.example.org' did not verify")) << e.message;
    });
    EXPECT_EQ(server.sni(), "");  // the handshake never finished on the server
  }
  {
    tls_script_server server([](tls_script_connection&) {});
    run([&](asio::io_context& io) -> awaitable<void> {
      auto tls = co_await connect_tls(io, server.port(), ctx);
      error e = co_await tls->handshake("127.0.0.1", true, 5s);  // SAN IP:127.0.0.1
      EXPECT_TRUE(e.ok()) << e.message;
    });
    EXPECT_EQ(server.sni(), "");  // no SNI for an IP literal
  }
  {
    tls_script_server server([](tls_script_connection&) {});
    run([&](asio::io_context& io) -> awaitable<void> {
      auto tls = co_await connect_tls(io, server.port(), ctx);
      error e = co_await tls->handshake("127.0.0.2", true, 5s);
      EXPECT_EQ(e.code, errc::failed_precondition) << e.message;
    });
  }
}

TEST(tls_socket, HandshakeTwiceOrWithoutSslObjectIsInternal) {
  tls_script_server server([](tls_script_connection&) {});
  auto ctx = test_ca_context();
  run([&](asio::io_context& io) -> awaitable<void> {
    auto tls = co_await connect_tls(io, server.port(), ctx);
    EXPECT_TRUE((co_await tls->handshake("localhost", true, 5s)).ok());
    EXPECT_EQ((co_await tls->handshake("localhost", true, 5s)).code, errc::internal);
    tls_socket no_context(asio::ip::tcp::socket(io), nullptr);
    EXPECT_EQ(no_context.native_handle(), nullptr);
    EXPECT_EQ((co_await no_context.handshake("localhost", true, 5s)).code, errc::internal);
  });
}

// ---- a server that never answers the handshake --------------------------------------

TEST(tls_socket, StalledHandshakeTimesOutAndCloses) {
  scripted_server server({script_step::stall()});  // TCP only: the ClientHello gets no answer
  auto ctx = test_ca_context();
  run([&](asio::io_context& io) -> awaitable<void> {
    auto tls = co_await connect_tls(io, server.port(), ctx);
    const auto started = steady::now();
    error e = co_await tls->handshake("localhost", true, 300ms);
    const auto took = steady::now() - started;
    EXPECT_EQ(e.code, errc::unavailable) << e.message;
    EXPECT_TRUE(contains(e.message, "timed out")) << e.message;
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 3s);
    EXPECT_FALSE(tls->is_open());
  });
}

TEST(tls_socket, CloseDuringTheHandshakeAbortsItAtOnce) {
  scripted_server server({script_step::stall()});
  auto ctx = test_ca_context();
  run([&](asio::io_context& io) -> awaitable<void> {
    auto tls = co_await connect_tls(io, server.port(), ctx);
    std::optional<error> result;
    std::optional<steady::time_point> finished;
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          result = co_await tls->handshake("localhost", true, 30s);
          finished = steady::now();
        },
        asio::detached);
    co_await sleep_for(io, 100ms);
    EXPECT_FALSE(result.has_value());  // still waiting for the ServerHello
    const auto closed_at = steady::now();
    tls->close();
    co_await sleep_for(io, 50ms);
    EXPECT_TRUE(result.has_value());
    if (!result) co_return;
    EXPECT_LT(*finished - closed_at, 50ms);
    EXPECT_EQ(result->code, errc::unavailable) << result->message;
    EXPECT_TRUE(contains(result->message, "aborted")) << result->message;
  });
}

// ---- data across WANT_READ / WANT_WRITE ---------------------------------------------

TEST(tls_socket, MebibyteWriteWhileTheServerIsNotReadingAndMebibyteRead) {
  constexpr std::size_t size = 1 << 20;
  const std::string upload = pattern(size, 'a');
  const std::string download = pattern(size, 'A');
  std::string uploaded;
  tls_script_server server([&](tls_script_connection& c) {
    std::this_thread::sleep_for(300ms);  // let the client's socket buffer fill: WANT_WRITE
    uploaded = c.read_exact(size);
    c.write(download);
  });
  auto ctx = test_ca_context();
  run([&](asio::io_context& io) -> awaitable<void> {
    auto tls = co_await connect_tls(io, server.port(), ctx);
    EXPECT_TRUE((co_await tls->handshake("localhost", true, 5s)).ok());
    error_code ec;
    EXPECT_EQ(co_await tls->write(upload, 10s, ec), size);
    EXPECT_FALSE(ec) << ec.message();
    const std::string got = co_await read_up_to(*tls, size, ec, 4096);  // many WANT_READs
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_TRUE(got == download) << "downloaded " << got.size() << " bytes, not the same";
    co_await tls->shutdown(1s);
  });
  EXPECT_EQ(uploaded.size(), size);
  EXPECT_TRUE(uploaded == upload);
}

TEST(tls_socket, WriteThatCannotDrainTimesOutAndCloses) {
  tls_script_server server([](tls_script_connection& c) {
    std::this_thread::sleep_for(1500ms);  // reads nothing for a while
    c.wait_for_close();
  });
  auto ctx = test_ca_context();
  const std::string big = pattern(16 << 20, 'x');  // more than the socket buffers hold
  run([&](asio::io_context& io) -> awaitable<void> {
    auto tls = co_await connect_tls(io, server.port(), ctx);
    EXPECT_TRUE((co_await tls->handshake("localhost", true, 5s)).ok());
    error_code ec;
    const auto written = co_await tls->write(big, 300ms, ec);
    EXPECT_EQ(ec, asio::error::timed_out) << ec.message();
    EXPECT_LT(written, big.size());
    EXPECT_FALSE(tls->is_open());
  });
}

// ---- cancel() of a pending read ------------------------------------------------------

TEST(tls_socket, CancelledReadLeavesTheConnectionUsable) {
  tls_script_server server([](tls_script_connection& c) {
    const std::string line = c.read_line();  // sent after the cancel
    c.write("got " + line);
    c.write("more\n");
    c.read_line();
  });
  auto ctx = test_ca_context();
  run([&](asio::io_context& io) -> awaitable<void> {
    auto tls = co_await connect_tls(io, server.port(), ctx);
    EXPECT_TRUE((co_await tls->handshake("localhost", true, 5s)).ok());
    std::optional<error_code> first;
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          char buffer[64];
          error_code ec;
          const std::size_t n = co_await tls->read_some(asio::buffer(buffer), ec);
          EXPECT_EQ(n, 0u);
          first = ec;
        },
        asio::detached);
    co_await sleep_for(io, 50ms);
    tls->cancel();
    co_await sleep_for(io, 20ms);
    EXPECT_TRUE(first.has_value());
    if (!first) co_return;
    EXPECT_EQ(*first, asio::error::operation_aborted);
    EXPECT_TRUE(tls->is_open());
    tls->cancel();  // nothing pending: no effect on what follows

    error_code ec;
    co_await tls->write("ping\n", 5s, ec);
    EXPECT_FALSE(ec) << ec.message();
    const std::string got = co_await read_up_to(*tls, 14, ec);
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(got, "got ping\nmore\n");
    co_await tls->write("bye\n", 5s, ec);
    co_await tls->shutdown(1s);
  });
  EXPECT_TRUE(script_finishes(server));
}

TEST(tls_socket, CancelledReadDoesNotDisturbAPendingWrite) {
  constexpr std::size_t size = 16 << 20;  // more than loopback socket buffers hold
  std::string uploaded;
  tls_script_server server([&](tls_script_connection& c) {
    std::this_thread::sleep_for(500ms);  // the client's write waits for room meanwhile
    uploaded = c.read_exact(size);
    c.write("done\n");
  });
  auto ctx = test_ca_context();
  const std::string upload = pattern(size, 'k');
  run([&](asio::io_context& io) -> awaitable<void> {
    auto tls = co_await connect_tls(io, server.port(), ctx);
    EXPECT_TRUE((co_await tls->handshake("localhost", true, 5s)).ok());
    std::optional<error_code> write_ec;
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          error_code ec;
          co_await tls->write(upload, 10s, ec);
          write_ec = ec;
        },
        asio::detached);
    error_code ec;
    std::optional<error_code> read_ec;
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          char buffer[64];
          error_code e;
          co_await tls->read_some(asio::buffer(buffer), e);
          read_ec = e;
        },
        asio::detached);
    co_await sleep_for(io, 100ms);
    tls->cancel();
    co_await sleep_for(io, 20ms);
    EXPECT_EQ(read_ec, std::optional<error_code>(asio::error::operation_aborted));
    EXPECT_FALSE(write_ec.has_value());  // still writing
    const std::string got = co_await read_up_to(*tls, 5, ec);
    EXPECT_EQ(got, "done\n");
    EXPECT_EQ(write_ec, std::optional<error_code>(error_code()));
  });
  EXPECT_TRUE(uploaded == upload);
}

// ---- end of stream ------------------------------------------------------------------

TEST(tls_socket, PeerCloseWithoutCloseNotifyIsStreamTruncated) {
  tls_script_server server([](tls_script_connection& c) { c.write("last words\n"); }, {0, false});
  auto ctx = test_ca_context();
  run([&](asio::io_context& io) -> awaitable<void> {
    auto tls = co_await connect_tls(io, server.port(), ctx);
    EXPECT_TRUE((co_await tls->handshake("localhost", true, 5s)).ok());
    error_code ec;
    const std::string got = co_await read_up_to(*tls, 1000, ec);
    EXPECT_EQ(got, "last words\n");
    EXPECT_EQ(ec, asio::ssl::error::stream_truncated) << ec.message();
    co_await tls->shutdown(1s);  // to a peer that is gone: ignored
    EXPECT_FALSE(tls->is_open());
  });
}

TEST(tls_socket, ShutdownSendsCloseNotify) {
  std::string after_close;
  {
    tls_script_server server([&](tls_script_connection& c) {
      char byte;
      const int r = SSL_read(c.ssl(), &byte, 1);
      after_close = r == 0 && SSL_get_error(c.ssl(), r) == SSL_ERROR_ZERO_RETURN ? "close_notify" : "other";
    });
    auto ctx = test_ca_context();
    run([&](asio::io_context& io) -> awaitable<void> {
      auto tls = co_await connect_tls(io, server.port(), ctx);
      EXPECT_TRUE((co_await tls->handshake("localhost", true, 5s)).ok());
      co_await tls->shutdown(2s);
      EXPECT_FALSE(tls->is_open());
    });
    script_finishes(server);
  }
  EXPECT_EQ(after_close, "close_notify");
}

// ---- post-handshake messages while a read is pending and writes go out ----------------

// The client keeps one read pending all the time and writes `rounds` lines, each
// answered by the server; the server sends `prelude(c)` first (a KeyUpdate or a
// renegotiation) and again every few rounds.
void exchange_with_pending_read(tls_script_server& server, int rounds) {
  auto ctx = test_ca_context();
  run([&](asio::io_context& io) -> awaitable<void> {
    auto tls = co_await connect_tls(io, server.port(), ctx);
    EXPECT_TRUE((co_await tls->handshake("localhost", true, 5s)).ok());
    std::string received;
    std::optional<error_code> read_end;
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          error_code ec;
          received = co_await read_up_to(*tls, static_cast<std::size_t>(-1), ec, 256);
          read_end = ec;
        },
        asio::detached);
    std::string expected;
    for (int i = 0; i < rounds; ++i) {
      const std::string line = "line " + std::to_string(i) + "\n";
      error_code ec;
      co_await tls->write(line, 5s, ec);
      EXPECT_FALSE(ec) << "round " << i << ": " << ec.message();
      expected += "echo " + line;
      co_await sleep_for(io, 10ms);
    }
    for (int i = 0; i < 300 && !read_end; ++i) co_await sleep_for(io, 10ms);
    EXPECT_TRUE(read_end.has_value()) << "the reader is stuck after " << received.size() << " bytes";
    if (!read_end) {
      tls->close();
      co_return;
    }
    EXPECT_EQ(*read_end, asio::error::eof) << read_end->message();
    EXPECT_EQ(received, expected);
    co_await tls->shutdown(1s);
  });
  EXPECT_TRUE(script_finishes(server));
}

TEST(tls_socket, Tls13KeyUpdatesMidStreamBreakNeitherReadsNorWrites) {
  constexpr int rounds = 20;
  tls_script_server server([&](tls_script_connection& c) {
    for (int i = 0; i < rounds; ++i) {
      if (i % 3 == 0) SSL_key_update(c.ssl(), SSL_KEY_UPDATE_REQUESTED);  // sent with the next write
      const std::string line = c.read_line();
      if (line.empty()) return;
      c.write("echo " + line);
    }
  });
  exchange_with_pending_read(server, rounds);
  // The client answered each requested update with its own (on its next write).
  EXPECT_GE(server.handshake_messages_received(SSL3_MT_KEY_UPDATE), 6);
}

TEST(tls_socket, Tls12RenegotiationMidStreamBreaksNeitherReadsNorWrites) {
  constexpr int rounds = 12;
  tls_script_server server(
      [&](tls_script_connection& c) {
        for (int i = 0; i < rounds; ++i) {
          if (i % 4 == 1) {
            SSL_renegotiate(c.ssl());
            SSL_do_handshake(c.ssl());  // sends HelloRequest; completes inside later reads
          }
          const std::string line = c.read_line();
          if (line.empty()) return;
          c.write("echo " + line);
        }
      },
      {TLS1_2_VERSION, true});
  exchange_with_pending_read(server, rounds);
  EXPECT_GE(server.handshake_messages_received(SSL3_MT_CLIENT_HELLO), 2);  // the first and a renegotiation
}

}  // namespace
}  // namespace mailbroker::net
