// delay_proxy: a TCP relay that puts a network's latency between a client and a server,
// so that benchmarks on one machine pay for round trips as they would over a distance.
//
// Usage: delay_proxy --target HOST:PORT --delay-ms D [--listen 127.0.0.1:0]
//                    [--max-queued BYTES (default 4 MiB)]
// Once listening it prints "port N" on stdout (one line, flushed); it runs until SIGTERM or
// SIGINT and then prints "delay_proxy: C connections, U bytes up, W bytes down, F failed" on
// stderr.
//
// The model, per accepted connection (D = the one-way delay):
// - the upstream connection is opened 2·D after the accept: the TCP handshake's round trip;
// - every chunk is forwarded in order and released D after it arrived — a pipe with
//   latency, not a bandwidth limit: chunks do not wait for each other's delay. The client's
//   bytes count as sent no earlier than the upstream leg opened (a real client cannot send
//   before its connect() returns), so a TLS ClientHello reaches the server at 3·D and the
//   ServerHello the client at 4·D, as over a real link;
// - at most --max-queued bytes wait per direction; above that the proxy stops reading and
//   the sender meets TCP's backpressure;
// - an EOF is passed on (shutdown(send)) after the same delay, so half-closes work; a reset
//   or any error on either side closes both sides at once.
// Single-threaded; one coroutine per direction reads, one writes.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "net/asio.hpp"

namespace {

using namespace mailbroker;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

struct settings {
  tcp::endpoint listen{asio::ip::make_address("127.0.0.1"), 0};
  tcp::endpoint target;
  steady::duration delay{};
  std::size_t max_queued = 4u << 20;
};

struct counters {
  std::uint64_t connections = 0, failed = 0, bytes_up = 0, bytes_down = 0;
} totals;

struct chunk {
  steady::time_point due;
  std::vector<char> data;  // empty + eof: the sender closed its side
  bool eof = false;
};

// One direction: its reader queues chunks, its writer releases each at `due`. The timers
// serve as wake-up signals (cancel() = notify) on the single thread.
struct lane {
  explicit lane(const asio::any_io_executor& ex) : writer_wake(ex), reader_wake(ex) {}
  std::deque<chunk> queue;
  std::size_t queued = 0;
  asio::steady_timer writer_wake, reader_wake;
  std::uint64_t* bytes = nullptr;
};

class connection : public std::enable_shared_from_this<connection> {
 public:
  connection(tcp::socket client, const settings& s)
      : s_(s),
        client_(std::move(client)),
        upstream_(client_.get_executor()),
        open_timer_(client_.get_executor()),
        up_(client_.get_executor()),
        down_(client_.get_executor()) {
    up_.bytes = &totals.bytes_up;
    down_.bytes = &totals.bytes_down;
  }

  void start() {
    opened_ = steady::now() + 2 * s_.delay;
    auto self = shared_from_this();
    asio::co_spawn(client_.get_executor(), [self] { return self->pump(self->client_, self->up_); }, asio::detached);
    asio::co_spawn(client_.get_executor(), [self] { return self->open(); }, asio::detached);
  }

 private:
  awaitable<void> open() {
    error_code ec;
    open_timer_.expires_at(opened_);
    co_await open_timer_.async_wait(asio::redirect_error(use_awaitable, ec));
    if (closed_) co_return;
    co_await upstream_.async_connect(s_.target, asio::redirect_error(use_awaitable, ec));
    if (closed_) co_return;
    if (ec) {
      ++totals.failed;
      std::fprintf(stderr, "delay_proxy: connect to %s:%u: %s\n", s_.target.address().to_string().c_str(),
                   s_.target.port(), ec.message().c_str());
      abort();
      co_return;
    }
    upstream_.set_option(tcp::no_delay(true), ec);
    auto self = shared_from_this();
    asio::co_spawn(client_.get_executor(), [self] { return self->deliver(self->up_, self->upstream_); }, asio::detached);
    asio::co_spawn(client_.get_executor(), [self] { return self->pump(self->upstream_, self->down_); }, asio::detached);
    asio::co_spawn(client_.get_executor(), [self] { return self->deliver(self->down_, self->client_); }, asio::detached);
  }

  awaitable<void> pump(tcp::socket& from, lane& l) {
    std::vector<char> buffer(64 * 1024);
    error_code ec;
    for (;;) {
      while (l.queued >= s_.max_queued && !closed_) {
        l.reader_wake.expires_at(steady::time_point::max());
        co_await l.reader_wake.async_wait(asio::redirect_error(use_awaitable, ec));
      }
      if (closed_) co_return;
      const std::size_t n = co_await from.async_read_some(asio::buffer(buffer), asio::redirect_error(use_awaitable, ec));
      if (closed_) co_return;
      chunk c;
      c.due = std::max(steady::now(), opened_) + s_.delay;
      if (ec == asio::error::eof) {
        c.eof = true;
      } else if (ec) {
        abort();
        co_return;
      } else {
        c.data.assign(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n));
        l.queued += n;
        *l.bytes += n;
      }
      const bool was_empty = l.queue.empty();
      const bool eof = c.eof;
      l.queue.push_back(std::move(c));
      if (was_empty) l.writer_wake.cancel();
      if (eof) co_return;
    }
  }

  awaitable<void> deliver(lane& l, tcp::socket& to) {
    error_code ec;
    for (;;) {
      if (closed_) co_return;
      if (l.queue.empty()) {
        l.writer_wake.expires_at(steady::time_point::max());
        co_await l.writer_wake.async_wait(asio::redirect_error(use_awaitable, ec));
        continue;
      }
      chunk& head = l.queue.front();  // deque: push_back keeps references valid
      if (steady::now() < head.due) {
        l.writer_wake.expires_at(head.due);
        co_await l.writer_wake.async_wait(asio::redirect_error(use_awaitable, ec));
        continue;
      }
      if (head.eof) {
        to.shutdown(tcp::socket::shutdown_send, ec);
        l.queue.pop_front();
        co_return;
      }
      co_await asio::async_write(to, asio::buffer(head.data), asio::redirect_error(use_awaitable, ec));
      if (closed_) co_return;
      if (ec) {
        abort();
        co_return;
      }
      l.queued -= head.data.size();
      l.queue.pop_front();
      l.reader_wake.cancel();
    }
  }

  // Both sides at once; every coroutine of this connection sees closed_ and returns, and
  // the last one to let go of the connection frees it.
  void abort() {
    if (closed_) return;
    closed_ = true;
    error_code ignored;
    client_.close(ignored);
    upstream_.close(ignored);
    open_timer_.cancel();
    for (lane* l : {&up_, &down_}) {
      l->writer_wake.cancel();
      l->reader_wake.cancel();
    }
  }

  const settings& s_;
  tcp::socket client_, upstream_;
  asio::steady_timer open_timer_;
  lane up_, down_;  // client -> server, server -> client
  steady::time_point opened_;
  bool closed_ = false;
};

awaitable<void> accept_loop(tcp::acceptor& acceptor, const settings& s) {
  asio::steady_timer pause(acceptor.get_executor());
  for (;;) {
    error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {  // e.g. out of file descriptors: let some close
      std::fprintf(stderr, "delay_proxy: accept: %s\n", ec.message().c_str());
      pause.expires_after(std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::redirect_error(use_awaitable, ec));
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    ++totals.connections;
    std::make_shared<connection>(std::move(socket), s)->start();
  }
}

tcp::endpoint parse_endpoint(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("HOST:PORT expected: " + text);
  std::string host = text.substr(0, colon);
  if (host.size() > 1 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const int port = std::stoi(text.substr(colon + 1));
  if (port < 0 || port > 65535) throw std::invalid_argument("bad port: " + text);
  return {asio::ip::make_address(host), static_cast<std::uint16_t>(port)};
}

}  // namespace

int main(int argc, char** argv) {
  settings s;
  bool have_target = false, have_delay = false;
  try {
    for (int i = 1; i + 1 < argc; i += 2) {
      const std::string k = argv[i], v = argv[i + 1];
      if (k == "--target") {
        s.target = parse_endpoint(v);
        have_target = true;
      } else if (k == "--delay-ms") {
        const int ms = std::stoi(v);
        if (ms < 0) throw std::invalid_argument("--delay-ms must be >= 0");
        s.delay = std::chrono::milliseconds(ms);
        have_delay = true;
      } else if (k == "--listen") {
        s.listen = parse_endpoint(v);
      } else if (k == "--max-queued") {
        s.max_queued = std::stoul(v);
      } else {
        throw std::invalid_argument("unknown option " + k);
      }
    }
    if (!have_target || !have_delay || argc % 2 == 0 || s.max_queued == 0) throw std::invalid_argument("");
  } catch (const std::exception& e) {
    if (*e.what() != '\0') std::fprintf(stderr, "delay_proxy: %s\n", e.what());
    std::fprintf(stderr,
                 "usage: delay_proxy --target HOST:PORT --delay-ms D [--listen 127.0.0.1:0] [--max-queued BYTES]\n");
    return 2;
  }
  // Two descriptors per relayed connection.
  if (rlimit r{}; ::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &r);
  }

  asio::io_context io(1);
  tcp::acceptor acceptor(io);
  try {
    acceptor.open(s.listen.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(s.listen);
    acceptor.listen(asio::socket_base::max_listen_connections);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "delay_proxy: listen on %s:%u: %s\n", s.listen.address().to_string().c_str(),
                 s.listen.port(), e.what());
    return 1;
  }
  std::printf("port %u\n", acceptor.local_endpoint().port());
  std::fflush(stdout);

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const error_code&, int) { io.stop(); });
  asio::co_spawn(io, accept_loop(acceptor, s), asio::detached);
  io.run();
  std::fprintf(stderr, "delay_proxy: %llu connections, %llu bytes up, %llu bytes down, %llu failed\n",
               static_cast<unsigned long long>(totals.connections), static_cast<unsigned long long>(totals.bytes_up),
               static_cast<unsigned long long>(totals.bytes_down), static_cast<unsigned long long>(totals.failed));
  return 0;
}
