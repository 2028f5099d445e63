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
// - the server's limit may be lower than ours (other apps share the mailbox's budget, or a
//   tenant is configured tighter): each 429 / 503 lowers the requests let out at once to
//   half of those in flight when it was refused (rounded up), and every
//   widen_after_answers answers without one let one more out again, up to max_in_flight —
//   so a throttling server settles the session at its real limit instead of refusing the
//   same share of requests over and over;
// - $batch (send_batch) packs up to 20 independent requests into one; members refused
//   with 429 / 503 are sent again (in a new batch, after the gate) like single requests.
// Every request first asks options.refresh_token for a current token; a 401 (the token
// was revoked early, or expired in flight) renews it once through options.renew_token and
// sends again. A read (GET) whose connection dropped before its answer was complete is
// UNAVAILABLE (safe to send again), not ABORTED as a change would be.
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
#include <deque>
#include <memory>
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

// Answers without throttling after which one more request may be in flight (see above).
inline constexpr int widen_after_answers = 16;

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
  // Before each request: make the access token the authenticator reads current (the
  // token cache answers from memory and refreshes ahead of expiry), so requests do not go
  // out with a token that expired since the last one. Empty: the token is left as it is.
  std::function<awaitable<error>()> refresh_token;
  // On a 401 for a request sent at `sent_at`: get a token newer than the one that request
  // carried (when another request renewed it since, that one is used). An error ends the
  // call with it.
  std::function<awaitable<error>(std::chrono::steady_clock::time_point sent_at)> renew_token;
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

  // Closes every connection; calls waiting (for a connection, the limit or a Retry-After)
  // end at once with unavailable, a request on the wire with cancelled.
  void close();
  bool is_open() const { return pool_.is_open(); }
  void set_on_lost(std::function<void(error)> fn) { pool_.set_on_lost(std::move(fn)); }

  const std::string& service_root() const { return options_.service_root; }
  const std::string& mailbox_root() const { return options_.mailbox_root; }
  std::size_t max_in_flight() const { return pool_.max_connections(); }
  std::size_t connections() const { return pool_.connections(); }
  std::size_t in_flight() const { return pool_.in_flight(); }
  std::size_t waiting() const { return pool_.waiting() + gate_waiting_; }
  // Requests let out at once now: max_in_flight, lower while Graph throttles.
  std::size_t current_limit() const { return limit_; }
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
  // Waits until fewer than limit_ requests are out, then counts this one.
  awaitable<void> enter_limit();
  void leave_limit();
  // Closes the gate for `wait` (never shortens it), counts the throttled answer and lowers
  // the limit to half of `concurrent`, the requests out when the refused one was sent.
  void throttle(std::chrono::milliseconds wait, std::size_t concurrent);
  // An answer without throttling: now and then one more request may go out at once.
  void calm_answer();
  // One HTTP exchange through the gate and the limit, with the 401 renewal; `concurrent`
  // gets the requests out when it was sent (itself included).
  awaitable<result<net::http_response>> exchange(const request& r, std::size_t& concurrent);

  net::http_pool pool_;
  client_options options_;
  std::string path_prefix_;  // the service root's path ("/v1.0"), prepended to request URLs
  std::chrono::steady_clock::time_point gate_opens_{};
  std::size_t gate_waiting_ = 0;
  std::size_t limit_ = 1;   // requests let out at once now
  std::size_t active_ = 0;  // requests out now
  int calm_answers_ = 0;    // answers without throttling since the limit last moved
  std::deque<std::shared_ptr<asio::steady_timer>> limit_waiting_;
  // Timers of calls waiting for a Retry-After to pass (cancelled by close()).
  std::vector<std::weak_ptr<asio::steady_timer>> gate_timers_;
  std::uint64_t throttled_ = 0;
  std::chrono::milliseconds last_retry_after_{0};
  std::optional<std::vector<folder_entry>> folders_;
};

}  // namespace mailbroker::graph
