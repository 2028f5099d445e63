#include "protocol/ews/client.hpp"

#include <algorithm>

namespace mailbroker::ews {

client::client(asio::any_io_executor executor, net::http_endpoint endpoint, net::http_connection_options http,
               client_options options, authenticator_factory make_authenticator)
    : executor_(std::move(executor)), endpoint_(std::move(endpoint)), http_options_(std::move(http)),
      make_authenticator_(std::move(make_authenticator)), options_(std::move(options)) {
  options_.max_connections = std::max(1, options_.max_connections);
}

client::client(asio::any_io_executor executor, net::http_endpoint endpoint, net::http_connection_options http,
               client_options options, std::shared_ptr<net::http_authenticator> auth)
    : client(std::move(executor), std::move(endpoint), std::move(http), std::move(options),
             [auth = std::move(auth)] { return auth; }) {
  options_.max_connections = 1;  // one authenticator can serve one connection
}

client::~client() { close(); }

awaitable<result<net::open_report>> client::open() {
  auto* first = co_await acquire();
  if (first == nullptr) co_return error{errc::cancelled, "EWS: the client was closed"};
  auto report = co_await first->http->open();
  release(first);
  co_return report;
}

void client::close() {
  if (closed_) return;
  closed_ = true;
  for (auto& p : pool_) p->http->close();
  auto waiting = std::move(waiting_);
  for (auto& w : waiting) w->timer.cancel();
}

std::unique_ptr<net::http_connection> client::new_connection() const {
  auto options = http_options_;
  options.trace = nullptr;  // a connection test traces the first connection only
  return std::make_unique<net::http_connection>(executor_, endpoint_, std::move(options), make_authenticator_());
}

std::unique_ptr<net::http_connection> client::new_connection(std::chrono::milliseconds request_timeout) const {
  auto options = http_options_;
  options.trace = nullptr;
  options.request_timeout = request_timeout;
  return std::make_unique<net::http_connection>(executor_, endpoint_, std::move(options), make_authenticator_());
}

void client::send_detached(std::vector<std::string> bodies) const {
  if (bodies.empty()) return;
  std::vector<net::http_request> requests;
  for (const auto& b : bodies) requests.push_back(request_for(b));
  // The coroutine owns its connection and requests: nothing of this client is touched.
  asio::co_spawn(
      executor_,
      [connection = new_connection(), requests = std::move(requests)]() mutable -> awaitable<void> {
        for (auto& r : requests) {
          auto response = co_await connection->send(std::move(r));
          if (!response) break;
        }
        connection->close();
      },
      asio::detached);
}

net::http_request client::request_for(const std::string& body) const {
  net::http_request request;
  request.method = "POST";
  request.target = options_.path;
  request.content_type = "text/xml; charset=utf-8";
  request.body = envelope(options_.context, body);
  request.headers.push_back({"Accept", "text/xml"});
  if (!options_.anchor_mailbox.empty()) request.headers.push_back({"X-AnchorMailbox", options_.anchor_mailbox});
  return request;
}

awaitable<client::pooled*> client::acquire() {
  if (closed_ || lost_) co_return nullptr;
  for (auto& p : pool_) {
    if (!p->busy) {
      p->busy = true;
      co_return p.get();
    }
  }
  if (pool_.size() < static_cast<std::size_t>(options_.max_connections)) {
    auto p = std::make_unique<pooled>();
    p->http = pool_.empty() ? std::make_unique<net::http_connection>(executor_, endpoint_, http_options_,
                                                                      make_authenticator_())
                            : new_connection();  // send() opens it
    p->busy = true;
    pool_.push_back(std::move(p));
    co_return pool_.back().get();
  }
  auto w = std::make_shared<waiter>(executor_);
  w->timer.expires_at(asio::steady_timer::time_point::max());
  waiting_.push_back(w);
  error_code ec;
  co_await w->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  co_return w->given;  // handed over by release(), still marked busy; null when closed
}

void client::release(pooled* p) {
  if (!closed_ && !lost_ && !waiting_.empty()) {
    auto next = std::move(waiting_.front());
    waiting_.pop_front();
    next->given = p;  // stays busy: the next caller's now
    next->timer.cancel();
    return;
  }
  p->busy = false;
  if (closed_ || lost_) {
    auto waiting = std::move(waiting_);
    for (auto& w : waiting) w->timer.cancel();
  }
}

void client::report_lost(const error& why) {
  if (lost_ || closed_) return;
  lost_ = true;
  auto waiting = std::move(waiting_);
  for (auto& w : waiting) w->timer.cancel();
  auto callback = on_lost_;
  if (callback) callback(why);
}

std::uint64_t client::requests() const {
  std::uint64_t n = 0;
  for (const auto& p : pool_) n += p->http->requests_sent();
  return n;
}

std::uint64_t client::bytes_in() const {
  std::uint64_t n = 0;
  for (const auto& p : pool_) n += p->http->bytes_in();
  return n;
}

std::uint64_t client::bytes_out() const {
  std::uint64_t n = 0;
  for (const auto& p : pool_) n += p->http->bytes_out();
  return n;
}

namespace {

// The first ErrorServerBusy among the reply's messages, with its back-off.
const response_message* busy_message(const soap_reply& reply) {
  for (const auto& m : reply.messages) {
    if (m.response_code == "ErrorServerBusy") return &m;
  }
  return nullptr;
}

// Failures that say the server (or the way to it) is gone, not that this request was
// wrong: the session reconnects and logs in again.
bool transport_failure(errc code) {
  return code == errc::unavailable || code == errc::deadline_exceeded || code == errc::aborted;
}

}  // namespace

awaitable<result<soap_reply>> client::call(result<std::string> body) {
  if (!body) co_return body.err();
  const net::http_request request = request_for(body.value());
  for (int attempt = 0;; ++attempt) {
    pooled* conn = co_await acquire();
    if (conn == nullptr) {
      co_return error{errc::unavailable, closed_ ? "EWS: the connection was closed"
                                                 : "EWS: the connection was lost; the session reconnects"};
    }
    ++in_flight_;
    auto response = co_await conn->http->send(request);
    --in_flight_;
    release(conn);
    if (!response) {
      if (transport_failure(response.err().code)) report_lost(response.err());
      co_return response.err();
    }
    const int status = response->status;
    if (status == 401) {
      co_return error{errc::unauthenticated, "EWS: HTTP 401: the server refused the credentials"};
    }
    if (status == 403) co_return error{errc::permission_denied, "EWS: HTTP 403: access to the EWS endpoint is denied"};
    std::uint32_t back_off_ms = 0;
    auto reply = parse_envelope(response->body, status, options_.context.version, &back_off_ms);
    if (reply) {
      if (!reply->server.version.empty() || reply->server.major != 0) server_ = reply->server;
      if (const auto* busy = busy_message(reply.value())) back_off_ms = std::max<std::uint32_t>(busy->back_off_ms, 1);
      else co_return reply;
    } else if (back_off_ms == 0) {
      co_return reply.err();
    }
    // ErrorServerBusy: the server says how long to stay away.
    if (attempt >= options_.max_busy_retries) {
      co_return error{errc::unavailable, "EWS ErrorServerBusy: the server is still busy after " +
                                             std::to_string(attempt + 1) + " attempts (it asked to wait " +
                                             std::to_string(back_off_ms) + " ms)"};
    }
    ++busy_back_offs_;
    const auto wait = std::min<std::chrono::milliseconds>(std::chrono::milliseconds(back_off_ms), options_.max_back_off);
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_after(wait);
    error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

}  // namespace mailbroker::ews
