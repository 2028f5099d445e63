#pragma once
// An EWS client: SOAP operations over a small pool of persistent HTTP(S) connections
// (the session's), with the envelope, X-AnchorMailbox and the server's back-off handled
// here so the backend only builds bodies (requests.hpp) and reads replies (responses.hpp).
//
// The pool (net/http_pool.hpp): up to max_connections requests in flight together, each on
// a connection of its own with its own authenticator (NTLM is bound to its TCP
// connection); a transport failure reports the client lost (set_on_lost), so the session
// reconnects and logs in again as it would over IMAP.
//
// Errors of call():
//   unauthenticated   HTTP 401 after the authenticator's last step ("... refused the credentials")
//   permission_denied HTTP 403
//   unavailable       transport failures (net::http_connection), a non-SOAP answer (HTML error
//                     page, 5xx) naming the HTTP status, ErrorServerBusy still busy after
//                     max_busy_retries back-offs
//   aborted           the connection dropped after the request was written (outcome unknown)
//   others            from parse_envelope (a SOAP fault: its ResponseCode in the message)
// Per-item results stay in the reply's messages (error_of() maps them).
//
// Threading: on the session's strand; calls may overlap (up to max_connections run at
// once, the rest wait).
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "net/asio.hpp"
#include "net/http_connection.hpp"
#include "net/http_pool.hpp"
#include "protocol/ews/requests.hpp"
#include "protocol/ews/responses.hpp"
#include "protocol/ews/version.hpp"

namespace mailbroker::ews {

// A folder of the mailbox by its path ("INBOX", "INBOX/Reports", "Archive"), as the
// Mailbox API names folders.
struct folder_entry {
  std::string path;
  folder_ref ref;
  std::uint32_t total = 0, unread = 0;
  bool has_children = false;
};

struct client_options {
  std::string path = "/EWS/Exchange.asmx";
  request_context context;       // RequestServerVersion, ExchangeImpersonation
  std::string anchor_mailbox;    // X-AnchorMailbox (routing in Exchange's front end); "" = none
  // ErrorServerBusy: wait the server's BackOffMilliseconds (at most max_back_off) and
  // send again, at most max_busy_retries times.
  std::chrono::milliseconds max_back_off{30000};
  int max_busy_retries = 2;
  // Connections open at once (requests in flight together), at least 1.
  int max_connections = 1;
};

using net::authenticator_factory;

class client {
 public:
  client(asio::any_io_executor executor, net::http_endpoint endpoint, net::http_connection_options http,
         client_options options, authenticator_factory make_authenticator);
  // One connection with this authenticator (options.max_connections is taken as 1).
  client(asio::any_io_executor executor, net::http_endpoint endpoint, net::http_connection_options http,
         client_options options, std::shared_ptr<net::http_authenticator> auth);
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // DNS, TCP, TLS of the first connection; no request yet.
  awaitable<result<net::open_report>> open();
  // Sends one operation whose body a builder made (its error is returned as is).
  awaitable<result<soap_reply>> call(result<std::string> body);

  // A new, unopened connection outside the pool, with its own authenticator, for a
  // request that holds its connection for minutes (GetStreamingEvents).
  std::unique_ptr<net::http_connection> new_connection() const;
  // The same with another request_timeout: for a stream, the longest gap between two
  // pieces of its body (net::http_connection_options::request_timeout).
  std::unique_ptr<net::http_connection> new_connection(std::chrono::milliseconds request_timeout) const;
  // The same envelope and headers call() sends, for such a connection.
  net::http_request request_for(const std::string& body) const;

  // Watches (mailbox::ews_backend adds and removes ids; session's ews_upstream waits on
  // them all in one GetStreamingEvents): the streaming subscriptions of the session's
  // live watches. Owned by this client alone; others hold it weakly, so a watch that can
  // still lock it knows this client still exists (a reconnect makes a new client).
  const std::shared_ptr<std::set<std::string>>& streaming_subscriptions() const { return streaming_; }
  // Sends `bodies` (e.g. Unsubscribe when a watch ends) one after another over a new
  // connection of their own, in the background and best effort: outcomes are dropped,
  // and the requests need nothing of this client once started (it may go first).
  void send_detached(std::vector<std::string> bodies) const;

  // Closes every connection; calls in progress or waiting fail with cancelled.
  void close() { pool_.close(); }
  // Until close() or the client was lost.
  bool is_open() const { return pool_.is_open(); }
  // Called once, when a call fails on the transport (see above); not for close().
  void set_on_lost(std::function<void(error)> fn) { pool_.set_on_lost(std::move(fn)); }

  server_version version() const { return options_.context.version; }
  const request_context& context() const { return options_.context; }
  // ServerVersionInfo of the last reply that carried one.
  const server_version_info& server() const { return server_; }
  std::uint64_t requests() const { return pool_.requests(); }  // every HTTP request written, auth legs included
  std::uint64_t bytes_in() const { return pool_.bytes_in(); }
  std::uint64_t bytes_out() const { return pool_.bytes_out(); }
  std::uint64_t busy_back_offs() const { return busy_back_offs_; }
  // The pool now: connections open (or opening) and calls sent or waiting.
  std::size_t connections() const { return pool_.connections(); }
  std::size_t calls_in_flight() const { return pool_.in_flight(); }
  std::size_t calls_waiting() const { return pool_.waiting(); }
  std::size_t max_connections() const { return pool_.max_connections(); }
  // The last ErrorServerBusy back-off asked for (0: none yet).
  std::chrono::milliseconds last_back_off() const { return last_back_off_; }

  // The folder tree as last listed on this connection (mailbox::ews_backend fills it; a
  // new connection starts without one, so a folder created meanwhile is found again).
  std::optional<std::vector<folder_entry>>& folder_tree() { return folders_; }

 private:
  net::http_pool pool_;
  client_options options_;
  server_version_info server_;
  std::uint64_t busy_back_offs_ = 0;
  std::chrono::milliseconds last_back_off_{0};
  std::optional<std::vector<folder_entry>> folders_;
  std::shared_ptr<std::set<std::string>> streaming_ = std::make_shared<std::set<std::string>>();
};

}  // namespace mailbroker::ews
