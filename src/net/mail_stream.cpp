#include "net/mail_stream.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>

#include <vector>

#include "net/fd_budget.hpp"

namespace mailbroker::net {
namespace {

using asio::redirect_error;

std::string endpoint_text(const std::string& host, std::uint16_t port) {
  return host + ":" + std::to_string(port);
}

// See mail_stream::set_dead_peer_timeout. Failures are ignored: the connection works
// without them, only a dead peer is noticed later.
void set_dead_peer_options(int fd, std::chrono::seconds timeout) {
  const int t = static_cast<int>(std::min<std::chrono::seconds::rep>(timeout.count(), 86400));
  const int idle = std::max(1, t / 3);
  const int rest = std::max(1, t - idle);
  const int count = std::min(3, rest);
  const int interval = std::max(1, rest / count);
  const int on = 1;
  const unsigned user_timeout_ms = static_cast<unsigned>(t) * 1000u;
  (void)::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
#ifdef __linux__
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
#endif
}

}  // namespace

mail_stream::mail_stream(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls_context)
    : tls_context_(std::move(tls_context)), socket_(std::move(executor)) {}

deadline_guard mail_stream::make_guard(duration timeout) {
  return deadline_guard(socket().get_executor(), timeout, [this] { close(); });
}

awaitable<error> mail_stream::connect(const std::string& host, std::uint16_t port, duration timeout) {
  auto executor = co_await asio::this_coro::executor;
  const auto started = std::chrono::steady_clock::now();
  const auto deadline = started + timeout;
  const auto since = [](std::chrono::steady_clock::time_point from) {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - from);
  };
  if (trace_) trace_->started = started;
  auto resolver = std::make_shared<asio::ip::tcp::resolver>(executor);
  error_code ec;
  bool resolve_expired = false;
  std::vector<asio::ip::tcp::endpoint> endpoints;
  {
    // getaddrinfo runs on Asio's resolver thread; the guard cancels it at the deadline.
    deadline_guard guard(executor, timeout, [resolver] { resolver->cancel(); });
    auto results =
        co_await resolver->async_resolve(host, std::to_string(port), redirect_error(use_awaitable, ec));
    for (const auto& entry : results) endpoints.push_back(entry.endpoint());
    resolve_expired = guard.expired();
  }
  resolve_time_ = since(started);
  if (resolve_expired) {
    co_return error{errc::deadline_exceeded, "resolving '" + host + "' timed out"};
  }
  if (fd_budget::is_exhaustion(ec)) {
    co_return error{errc::resource_exhausted,
                    fd_budget::exhaustion_message(ec.value()) + " (resolving '" + host + "')"};
  }
  if (ec || endpoints.empty()) {
    co_return error{errc::unavailable, "cannot resolve server.host '" + host + "': " + ec.message()};
  }
  if (trace_) {
    trace_->resolved = std::chrono::steady_clock::now();
    trace_->address_count = endpoints.size();
    for (std::size_t i = 0; i < endpoints.size() && i < max_traced_addresses; ++i) {
      trace_->addresses.push_back(endpoints[i].address().to_string());
    }
  }

  // Each address in turn, opening the socket ourselves: asio::async_connect reports a
  // socket() that failed (EMFILE) as operation_aborted, hiding the one cause that needs
  // a different answer.
  bool expired = false;
  const auto connect_started = std::chrono::steady_clock::now();
  {
    auto guard = make_guard(deadline - std::chrono::steady_clock::now());
    for (const auto& endpoint : endpoints) {
      error_code ignored;
      socket().close(ignored);
      socket().open(endpoint.protocol(), ec);
      if (fd_budget::is_exhaustion(ec)) {
        // Transient (the session backs off and retries), not a server that cannot be reached.
        co_return error{errc::resource_exhausted, fd_budget::exhaustion_message(ec.value()) + " (connecting to " +
                                                      endpoint_text(host, port) + ")"};
      }
      if (ec) continue;
      co_await socket().async_connect(endpoint, redirect_error(use_awaitable, ec));
      if (!ec) break;
      if (!socket().is_open()) {  // closed under us: the deadline, or close()
        ec = asio::error::operation_aborted;
        break;
      }
    }
    expired = guard.expired();
  }
  connect_time_ = since(connect_started);
  if (expired) {
    co_return error{errc::unavailable, "connecting to " + endpoint_text(host, port) + " timed out"};
  }
  if (ec) {
    error_code ignored;
    socket().close(ignored);
    co_return error{errc::unavailable, "cannot connect to " + endpoint_text(host, port) + ": " + ec.message()};
  }
  if (trace_) {
    trace_->connected = std::chrono::steady_clock::now();
    error_code ignored;
    const auto peer = socket().remote_endpoint(ignored);
    const auto address = peer.address().to_string();
    trace_->endpoint = (peer.address().is_v6() ? "[" + address + "]" : address) + ":" + std::to_string(peer.port());
  }
  socket().set_option(asio::ip::tcp::no_delay(true), ec);
  if (dead_peer_timeout_.count() > 0) set_dead_peer_options(socket().native_handle(), dead_peer_timeout_);
  co_return error::none();
}

awaitable<error> mail_stream::start_tls(const std::string& server_name, bool verify, duration timeout) {
  if (!tls_context_) co_return error{errc::internal, "start_tls: this stream has no TLS context"};
  if (tls_) co_return error{errc::internal, "start_tls: TLS was already started on this stream"};
  tls_ = std::make_unique<tls_socket>(std::move(socket_), tls_context_->native_handle());
  if (trace_) trace_->tls_started = std::chrono::steady_clock::now();
  error e = co_await tls_->handshake(server_name, verify, timeout);
  if (trace_ && tls_->native_handle() != nullptr) {
    read_tls_peer(tls_->native_handle(), trace_->tls);
    if (e.ok()) trace_->tls_done = std::chrono::steady_clock::now();
  }
  if (!e.ok()) co_return e;
  tls_active_ = true;
  co_return error::none();
}

awaitable<std::size_t> mail_stream::read_some(asio::mutable_buffer buffer, error_code& ec) {
  std::size_t n = 0;
  if (tls_active_) {
    n = co_await tls_->read_some(buffer, ec);
  } else {
    n = co_await socket().async_read_some(buffer, redirect_error(use_awaitable, ec));
  }
  if (trace_ && n > 0 && !trace_->first_byte) trace_->first_byte = std::chrono::steady_clock::now();
  bytes_in_ += n;
  co_return n;
}

awaitable<void> mail_stream::write(std::string_view data, duration timeout, error_code& ec) {
  if (tls_active_) {
    bytes_out_ += co_await tls_->write(data, timeout, ec);
    co_return;
  }
  auto guard = make_guard(timeout);
  const std::size_t n =
      co_await asio::async_write(socket(), asio::buffer(data), redirect_error(use_awaitable, ec));
  bytes_out_ += n;
  if (guard.expired()) ec = asio::error::timed_out;
}

awaitable<void> mail_stream::shutdown(duration timeout) {
  if (tls_active_ && is_open()) co_await tls_->shutdown(timeout);
  close();
}

void mail_stream::close() {
  error_code ignored;
  socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket().close(ignored);
}

void mail_stream::cancel() {
  if (tls_) {
    tls_->cancel();
    return;
  }
  error_code ignored;
  socket().cancel(ignored);
}

bool mail_stream::is_open() const { return socket().is_open(); }

}  // namespace mailbroker::net
