#pragma once
// The Prometheus scrape endpoint: a minimal HTTP/1.1 server that answers GET (and HEAD)
// /metrics with the text format, 404 for any other path, 405 for other methods.
//
// Limits: request head 8 KiB (a request with a body is refused), 10 s per request,
// 16 connections at once (more are closed at accept), 100 requests per connection.
// No TLS: bind it to loopback (the default) or put it behind something that does mTLS.
//
// Threading: runs on the given executor (the daemon's io threads); start()/stop() from
// any thread. `render` is called on an io thread for every scrape and must not block
// for long.
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "net/asio.hpp"

namespace mailbroker::daemon {

// Parses "HOST:PORT" ("127.0.0.1:9464", "[::1]:9464", "localhost:9464", "0.0.0.0:9464";
// port 0 = any free port). Errors: invalid_argument for a malformed address, and for a
// non-loopback one unless `allow_remote` (messages name `key`).
result<asio::ip::tcp::endpoint> parse_metrics_listen(std::string_view text, bool allow_remote,
                                                     std::string_view key = "metrics-listen");

class metrics_http {
 public:
  metrics_http(asio::any_io_executor executor, std::function<std::string()> render);
  ~metrics_http();

  // Binds and starts accepting. Errors: failed_precondition when the address cannot be
  // bound (in use, no permission).
  error start(const asio::ip::tcp::endpoint& endpoint);
  // "HOST:PORT" actually bound (port 0 resolved); "" before start().
  std::string target() const { return target_; }
  // Closes the listener on an io thread and waits for that (at most 1 s: call it while
  // the io threads still run); connections being served finish on their own (bounded
  // by the request timeout). Idempotent.
  void stop();

 private:
  struct state;
  std::shared_ptr<state> state_;
  std::string target_;
};

}  // namespace mailbroker::daemon
