#pragma once
// A Microsoft Graph client for one mailbox: requests (requests.hpp builders) over the
// session's pool of persistent HTTPS connections (net/http_pool.hpp), with Graph's
// throttling handled here so the backend only builds requests and reads replies.
//
// Throttling is the point (Exchange Online: at most 4 concurrent requests per app and
// mailbox, more get 429 + Retry-After):
// - at most max_in_flight requests are in flight (the pool's connections); the rest wait
//   their turn, first come, first served;
// - a 429 or 503 holds back every request of this client until its Retry-After has
//   passed (the "gate"), not just the one refused: a throttled mailbox is throttled for
//   everyone, and more requests meanwhile would only earn more 429s; then the refused
//   request is sent again, at most max_throttle_retries times, after which the caller gets
//   UNAVAILABLE with Graph's code, request-id and how often it was retried;
// - $batch (send_batch) packs up to 20 independent requests into one; members refused
//   with 429 / 503 are sent again (in a new batch, after the gate) like single requests.
// A 401 (the token expired or was revoked early) renews the token once through
// options.renew_token and sends again.
//
// Errors: errors.hpp response_error() for non-2xx answers (NOT_FOUND, UNAUTHENTICATED,
// PERMISSION_DENIED naming the permission, ... with Graph's code and request-id), the
// pool's transport errors (the client is then lost: the session reconnects), cancelled
// after close(). No message ever carries the token.
//
// Threading: on the session's strand; calls may overlap.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "net/asio.hpp"
#include "net/http_pool.hpp"
#include "protocol/graph/requests.hpp"

namespace mailbroker::graph {

// A folder of the mailbox by its path ("INBOX", "INBOX/Reports", "Archive"), as the
// Mailbox API names folders.
struct folder_entry {
  std::string path;
  std::string id;
  std::uint32_t total = 0, unread = 0;
  bool has_children = false;
};

struct client_options {
  // The service root as endpoints.hpp service_root() made it ("https://graph.microsoft.com/v1.0"):
  // links in answers must stay under it.
  std::string service_root;
  // The mailbox every request acts on: "/me" or "/users/<address>" (endpoints.hpp mailbox_root()).
  std::string mailbox_root;
  std::size_t max_in_flight = 4;
  int max_throttle_retries = 3;
  // The longest wait for one Retry-After (longer ones are cut to it).
  std::chrono::milliseconds max_retry_wait{std::chrono::seconds(60)};
  // Called on a 401: fetch a new access token (the authenticator reads the current one).
  std::function<awaitable<error>()> renew_token;
};

// A 2xx answer.
struct answer {
  int status = 0;
  std::string body;
  std::string content_type;
};

class client {
 public:
  // The endpoint and options.service_root must agree (the session makes both from one URL).
  client(asio::any_io_executor executor, net::http_endpoint endpoint, net::http_connection_options http,
         client_options options, net::authenticator_factory make_authenticator);
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // DNS, TCP, TLS of the first connection; no request yet.
  awaitable<result<net::open_report>> open();

  // Sends one request (its builder's error is returned as is). `item` names what the
  // request is about in not-found messages ("message AAMk...", "folder Archive").
  awaitable<result<answer>> send(result<request> r, std::string item = {});

  // Sends up to max_batch_requests independent requests as one $batch; the outcome of each
  // in `requests` order (items: as for send(), may be shorter). The whole call fails only
  // when the batch itself does (transport, 401 after renewal, a malformed batch answer).
  awaitable<result<std::vector<result<answer>>>> send_batch(std::vector<request> requests,
                                                            std::vector<std::string> items = {});

  // A link from an answer (@odata.nextLink / deltaLink) as a URL for follow(): refused
  // (failed_precondition) when it leaves the service root.
  result<std::string> relative(std::string_view link, std::string_view what) const;

  void close() { pool_.close(); }
  bool is_open() const { return pool_.is_open(); }
  void set_on_lost(std::function<void(error)> fn) { pool_.set_on_lost(std::move(fn)); }

  const std::string& service_root() const { return options_.service_root; }
  const std::string& mailbox_root() const { return options_.mailbox_root; }
  std::size_t max_in_flight() const { return pool_.max_connections(); }
  std::size_t connections() const { return pool_.connections(); }
  std::size_t in_flight() const { return pool_.in_flight(); }
  std::size_t waiting() const { return pool_.waiting() + gate_waiting_; }
  std::uint64_t requests() const { return pool_.requests(); }
  std::uint64_t bytes_in() const { return pool_.bytes_in(); }
  std::uint64_t bytes_out() const { return pool_.bytes_out(); }
  // 429 / 503 answers (batch members included) and the last Retry-After honoured.
  std::uint64_t throttled() const { return throttled_; }
  std::chrono::milliseconds last_retry_after() const { return last_retry_after_; }
  // When the gate opens again; nullopt when it is open.
  std::optional<std::chrono::system_clock::time_point> throttled_until() const;

  // The folder tree as last listed (mailbox::graph_backend fills it; forgotten by a new
  // connection, so a folder created meanwhile is found again).
  std::optional<std::vector<folder_entry>>& folder_tree() { return folders_; }

 private:
  net::http_request to_http(const request& r) const;
  // Waits while the gate is closed.
  awaitable<void> pass_gate();
  // Closes the gate for `wait` (never shortens it) and counts the throttled answer.
  void throttle(std::chrono::milliseconds wait);
  // One HTTP exchange through the gate, with the 401 renewal.
  awaitable<result<net::http_response>> exchange(const request& r);

  net::http_pool pool_;
  client_options options_;
  std::string path_prefix_;  // the service root's path ("/v1.0"), prepended to request URLs
  std::chrono::steady_clock::time_point gate_opens_{};
  std::size_t gate_waiting_ = 0;
  std::uint64_t throttled_ = 0;
  std::chrono::milliseconds last_retry_after_{0};
  std::optional<std::vector<folder_entry>> folders_;
};

}  // namespace mailbroker::graph
