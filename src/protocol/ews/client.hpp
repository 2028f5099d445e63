#pragma once
// An EWS client: SOAP operations over one persistent HTTP(S) connection (the session's),
// with the envelope, X-AnchorMailbox and the server's back-off handled here so the
// backend only builds bodies (requests.hpp) and reads replies (responses.hpp).
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
// Threading: one call at a time, on the session's strand (HTTP/1.1 has no pipelining).
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "net/asio.hpp"
#include "net/http_connection.hpp"
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
};

class client {
 public:
  client(asio::any_io_executor executor, net::http_endpoint endpoint, net::http_connection_options http,
         client_options options, std::shared_ptr<net::http_authenticator> auth);

  // DNS, TCP, TLS; no request yet.
  awaitable<result<net::open_report>> open();
  // Sends one operation whose body a builder made (its error is returned as is).
  awaitable<result<soap_reply>> call(result<std::string> body);

  void close();
  bool is_open() const { return http_.is_open(); }
  void set_on_lost(std::function<void(error)> fn) { http_.set_on_lost(std::move(fn)); }

  server_version version() const { return options_.context.version; }
  const request_context& context() const { return options_.context; }
  // ServerVersionInfo of the last reply that carried one.
  const server_version_info& server() const { return server_; }
  std::uint64_t requests() const { return http_.requests_sent(); }
  std::uint64_t bytes_in() const { return http_.bytes_in(); }
  std::uint64_t bytes_out() const { return http_.bytes_out(); }
  std::uint64_t busy_back_offs() const { return busy_back_offs_; }

  // The folder tree as last listed on this connection (mailbox::ews_backend fills it; a
  // new connection starts without one, so a folder created meanwhile is found again).
  std::optional<std::vector<folder_entry>>& folder_tree() { return folders_; }

 private:
  net::http_connection http_;
  client_options options_;
  server_version_info server_;
  std::uint64_t busy_back_offs_ = 0;
  std::optional<std::vector<folder_entry>> folders_;
};

}  // namespace mailbroker::ews
