#include "daemon/metrics_http.hpp"

#include <charconv>
#include <future>
#include <sstream>

#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "metrics/text_format.hpp"

namespace mailbroker::daemon {
namespace {

namespace http = beast::http;
using asio::ip::tcp;
using asio::redirect_error;

constexpr std::size_t max_head_bytes = 8 * 1024;
constexpr std::size_t max_connections = 16;
constexpr int max_requests_per_connection = 100;
constexpr auto request_timeout = std::chrono::seconds(10);

http::response<http::string_body> answer(const http::request<http::empty_body>& req,
                                         const std::function<std::string()>& render) {
  http::response<http::string_body> res;
  res.version(req.version());
  res.keep_alive(req.keep_alive());
  res.set(http::field::server, "mailbrokerd");
  std::string_view target(req.target().data(), req.target().size());
  target = target.substr(0, target.find('?'));
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    res.result(http::status::method_not_allowed);
    res.set(http::field::allow, "GET, HEAD");
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() = "only GET /metrics is served here\n";
  } else if (target != "/metrics") {
    res.result(http::status::not_found);
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() = "not found: the metrics are at /metrics\n";
  } else {
    res.result(http::status::ok);
    res.set(http::field::content_type, std::string(metrics::content_type));
    res.set(http::field::cache_control, "no-store");
    res.body() = render();
  }
  res.prepare_payload();
  if (req.method() == http::verb::head) res.body().clear();  // Content-Length stays that of GET
  return res;
}

}  // namespace

struct metrics_http::state : std::enable_shared_from_this<state> {
  state(asio::any_io_executor ex, std::function<std::string()> r)
      : executor(std::move(ex)), acceptor(executor), render(std::move(r)) {}

  awaitable<void> accept_loop() {
    for (;;) {
      error_code ec;
      tcp::socket socket = co_await acceptor.async_accept(redirect_error(use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        spdlog::warn("metrics: accept failed: {}", ec.message());
        continue;
      }
      if (connections.load() >= max_connections) {
        socket.close(ec);  // a scraper needs one or two; more is a misbehaving client
        continue;
      }
      ++connections;
      asio::co_spawn(executor, serve(std::move(socket)), asio::detached);
    }
  }

  awaitable<void> serve(tcp::socket socket) {
    auto self = shared_from_this();
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer(max_head_bytes);
    for (int served = 0; served < max_requests_per_connection; ++served) {
      http::request_parser<http::empty_body> parser;
      parser.header_limit(max_head_bytes);
      stream.expires_after(request_timeout);
      error_code ec;
      co_await http::async_read(stream, buffer, parser, redirect_error(use_awaitable, ec));
      if (ec) break;  // closed, timed out, too big, or a body: nothing more to say
      auto res = answer(parser.get(), render);
      const bool keep_alive = res.keep_alive() && served + 1 < max_requests_per_connection;
      res.keep_alive(keep_alive);
      co_await http::async_write(stream, res, redirect_error(use_awaitable, ec));
      if (ec || !keep_alive) break;
    }
    error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.close();
    --connections;
  }

  asio::any_io_executor executor;
  tcp::acceptor acceptor;
  std::function<std::string()> render;
  std::atomic<std::size_t> connections{0};
};

result<tcp::endpoint> parse_metrics_listen(std::string_view text, bool allow_remote, std::string_view key) {
  auto bad = [&](const std::string& why) {
    return error{errc::invalid_argument, std::string(key) + ": '" + std::string(text) + "' " + why};
  };
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return bad("is not HOST:PORT");
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port > 65535 || port_text.empty()) {
    return bad("has no port number 0..65535");
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host == "localhost") host = "127.0.0.1";
  error_code parse_ec;
  const auto address = asio::ip::make_address(std::string(host), parse_ec);
  if (parse_ec) return bad("does not name an IP address (use 127.0.0.1, [::1], 0.0.0.0 ...)");
  if (!address.is_loopback() && !allow_remote) {
    return bad("is not a loopback address; the metrics endpoint has no TLS or auth (set metrics-allow-remote = "
               "true to expose it, e.g. to a Prometheus in the same pod network)");
  }
  return tcp::endpoint(address, static_cast<unsigned short>(port));
}

metrics_http::metrics_http(asio::any_io_executor executor, std::function<std::string()> render)
    : state_(std::make_shared<state>(std::move(executor), std::move(render))) {}

metrics_http::~metrics_http() { stop(); }

error metrics_http::start(const tcp::endpoint& endpoint) {
  auto& acceptor = state_->acceptor;
  error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    acceptor.close(ec);
    std::ostringstream where;
    where << endpoint;
    return {errc::failed_precondition, "metrics-listen: cannot listen on " + where.str() + ": " + ec.message()};
  }
  const auto bound = acceptor.local_endpoint(ec);
  const auto address = bound.address();
  target_ = (address.is_v6() ? "[" + address.to_string() + "]" : address.to_string()) + ":" +
            std::to_string(bound.port());
  asio::co_spawn(state_->executor, [s = state_] { return s->accept_loop(); }, asio::detached);
  return error::none();
}

void metrics_http::stop() {
  if (!state_) return;
  // The acceptor belongs to the io threads: close it there.
  auto s = state_;
  state_.reset();
  auto closed = std::make_shared<std::promise<void>>();
  auto done = closed->get_future();
  asio::post(s->executor, [s, closed] {
    error_code ec;
    s->acceptor.close(ec);
    closed->set_value();
  });
  // Bounded: when the io threads are already stopped the socket closes with them.
  done.wait_for(std::chrono::seconds(1));
}

}  // namespace mailbroker::daemon
