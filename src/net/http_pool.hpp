#pragma once
// A small pool of persistent HTTP/1.1 connections to one endpoint: what an HTTP mail
// session (EWS, Graph) holds where an IMAP session holds one connection.
//
// HTTP/1.1 has no pipelining, so requests in flight together need connections of their
// own. A request takes an idle connection, or opens another while fewer than
// max_connections are open (each authenticates itself: NTLM is bound to its TCP
// connection, so each connection gets its own authenticator from the factory), or waits
// its turn (first come, first served). A connection the server closes while idle (HTTP
// servers do that to idle keep-alive connections) is simply re-opened by its next
// request; only a request that fails on the transport (the server is unreachable, stalls
// past the request timeout, or cut the connection mid-request) reports the pool lost
// (set_on_lost), once, so the session reconnects and logs in again as it would over IMAP.
//
// Threading: on the session's strand; sends may overlap (up to max_connections run at
// once, the rest wait). The pool must outlive its sends.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "common/error.hpp"
#include "net/asio.hpp"
#include "net/http_connection.hpp"

namespace mailbroker::net {

// Makes the authenticator for one new connection of the pool.
using authenticator_factory = std::function<std::shared_ptr<http_authenticator>()>;

class http_pool {
  struct pooled;

 public:
  // One connection of the pool, held by one caller until the lease goes (then the next
  // waiting caller gets it). Empty when the pool was closed or lost.
  class lease {
   public:
    lease() = default;
    lease(lease&& other) noexcept : pool_(other.pool_), slot_(other.slot_) { other.slot_ = nullptr; }
    lease& operator=(lease&& other) noexcept;
    ~lease() { reset(); }
    explicit operator bool() const { return slot_ != nullptr; }
    void reset();

   private:
    friend class http_pool;
    lease(http_pool* pool, pooled* slot) : pool_(pool), slot_(slot) {}
    http_pool* pool_ = nullptr;
    pooled* slot_ = nullptr;
  };

  // `name` starts error messages ("EWS", "Graph"). max_connections is at least 1.
  http_pool(std::string name, asio::any_io_executor executor, http_endpoint endpoint, http_connection_options options,
            authenticator_factory make_authenticator, std::size_t max_connections);
  ~http_pool();
  http_pool(const http_pool&) = delete;
  http_pool& operator=(const http_pool&) = delete;

  // DNS, TCP, TLS of the first connection; no request yet.
  awaitable<result<open_report>> open();

  // Sends `request` on a pooled connection (waiting for one when all are busy) and reads
  // the whole response; any HTTP status is a success. Errors: http_connection::send()'s;
  // unavailable when the pool was closed or lost (before or while waiting). A transport
  // failure (unavailable, deadline_exceeded, aborted) reports the pool lost.
  awaitable<result<http_response>> send(const http_request& request);

  // The same in two steps, for a caller that must wait for something else once it holds a
  // connection (graph::client waits for a Retry-After there: a request that waited for a
  // connection while another was being throttled must not go out before it has passed).
  awaitable<lease> acquire_slot();
  awaitable<result<http_response>> send(lease& on, const http_request& request);

  // A new, unopened connection outside the pool, with its own authenticator and without
  // the connection trace, for a request that holds its connection for minutes; 0 keeps
  // the pool's request_timeout.
  std::unique_ptr<http_connection> new_connection(std::chrono::milliseconds request_timeout = {}) const;

  // Closes every connection; sends in progress or waiting fail (cancelled / unavailable).
  void close();
  bool is_open() const { return !closed_ && !lost_; }
  bool closed() const { return closed_; }
  // Called once, when a send fails on the transport; not for close().
  void set_on_lost(std::function<void(error)> fn) { on_lost_ = std::move(fn); }

  const std::string& name() const { return name_; }
  const http_endpoint& endpoint() const { return endpoint_; }
  const asio::any_io_executor& executor() const { return executor_; }
  std::size_t max_connections() const { return max_connections_; }
  std::size_t connections() const { return pool_.size(); }  // open or opening
  std::size_t in_flight() const { return in_flight_; }
  std::size_t waiting() const { return waiting_.size(); }
  std::uint64_t requests() const;  // every HTTP request written, auth legs included
  std::uint64_t bytes_in() const;
  std::uint64_t bytes_out() const;

 private:
  struct pooled {
    std::unique_ptr<http_connection> http;
    bool busy = false;
  };
  struct waiter {
    explicit waiter(asio::any_io_executor ex) : timer(std::move(ex)) {}
    asio::steady_timer timer;  // cancelled: given is this call's connection (null: closed)
    pooled* given = nullptr;
  };
  // An idle pooled connection, or a new one, or (all busy, pool full) the first freed
  // after the sends waiting before this one. Null when the pool closed meanwhile.
  awaitable<pooled*> acquire();
  void release(pooled* p);
  void report_lost(const error& why);
  void wake_all_waiting();

  std::string name_;
  asio::any_io_executor executor_;
  http_endpoint endpoint_;
  http_connection_options options_;
  authenticator_factory make_authenticator_;
  std::size_t max_connections_;
  std::deque<std::unique_ptr<pooled>> pool_;
  std::deque<std::shared_ptr<waiter>> waiting_;  // first come, first served
  std::size_t in_flight_ = 0;
  std::function<void(error)> on_lost_;
  bool closed_ = false, lost_ = false;
};

}  // namespace mailbroker::net
