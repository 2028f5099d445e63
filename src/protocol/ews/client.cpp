#include "protocol/ews/client.hpp"

#include <algorithm>

namespace mailbroker::ews {

client::client(asio::any_io_executor executor, net::http_endpoint endpoint, net::http_connection_options http,
               client_options options, authenticator_factory make_authenticator)
    : pool_("EWS", std::move(executor), std::move(endpoint), std::move(http), std::move(make_authenticator),
            static_cast<std::size_t>(std::max(1, options.max_connections))),
      options_(std::move(options)) {
  options_.max_connections = static_cast<int>(pool_.max_connections());
}

client::client(asio::any_io_executor executor, net::http_endpoint endpoint, net::http_connection_options http,
               client_options options, std::shared_ptr<net::http_authenticator> auth)
    : client(std::move(executor), std::move(endpoint), std::move(http),
             [&options] {
               options.max_connections = 1;  // one authenticator can serve one connection
               return std::move(options);
             }(),
             [auth = std::move(auth)] { return auth; }) {}

client::~client() { close(); }

awaitable<result<net::open_report>> client::open() { co_return co_await pool_.open(); }

std::unique_ptr<net::http_connection> client::new_connection() const { return pool_.new_connection(); }

std::unique_ptr<net::http_connection> client::new_connection(std::chrono::milliseconds request_timeout) const {
  return pool_.new_connection(request_timeout);
}

void client::send_detached(std::vector<std::string> bodies) const {
  if (bodies.empty()) return;
  std::vector<net::http_request> requests;
  for (const auto& b : bodies) requests.push_back(request_for(b));
  // The coroutine owns its connection and requests: nothing of this client is touched.
  asio::co_spawn(
      pool_.executor(),
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

namespace {

// The first ErrorServerBusy among the reply's messages, with its back-off.
const response_message* busy_message(const soap_reply& reply) {
  for (const auto& m : reply.messages) {
    if (m.response_code == "ErrorServerBusy") return &m;
  }
  return nullptr;
}

}  // namespace

awaitable<result<soap_reply>> client::call(result<std::string> body) {
  if (!body) co_return body.err();
  const net::http_request request = request_for(body.value());
  for (int attempt = 0;; ++attempt) {
    auto response = co_await pool_.send(request);
    if (!response) co_return response.err();
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
    last_back_off_ = wait;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_after(wait);
    error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

}  // namespace mailbroker::ews
