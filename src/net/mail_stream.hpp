#pragma once
// A TCP stream that starts plain or TLS and can be upgraded by STARTTLS/STLS: the one
// transport every mail protocol client uses.
//
// Threading: not thread-safe; use from one strand. At most one read and one write may
// be outstanding at a time (the Asio rule for streams), which lets a protocol client
// keep a read pending while it writes commands.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "net/asio.hpp"
#include "net/deadline_guard.hpp"

namespace mailbroker::net {

class mail_stream {
 public:
  using duration = std::chrono::steady_clock::duration;

  mail_stream(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls_context);
  mail_stream(const mail_stream&) = delete;
  mail_stream& operator=(const mail_stream&) = delete;

  // Resolves `host` and connects to the first address that answers, all within
  // `timeout`. Errors: unavailable naming host:port and the cause (unknown host,
  // connection refused, timeout).
  awaitable<error> connect(const std::string& host, std::uint16_t port, duration timeout);

  // TLS handshake on the connected socket (implicit TLS, or after STARTTLS). Sends
  // `server_name` as SNI and, when `verify`, checks the chain and that the certificate
  // matches `server_name` (DNS name or IP literal). Errors: failed_precondition for a
  // certificate that does not verify, unavailable for other handshake failures.
  awaitable<error> start_tls(const std::string& server_name, bool verify, duration timeout);

  // Reads whatever is available (no timeout: an idle server is legitimate; callers
  // bound waits themselves and close() to abort). Returns 0 with ec set on EOF/error.
  awaitable<std::size_t> read_some(asio::mutable_buffer buffer, error_code& ec);

  // Writes all of `data` within `timeout`; on timeout the stream is closed and ec is
  // asio::error::timed_out.
  awaitable<void> write(std::string_view data, duration timeout, error_code& ec);

  // Closes the socket at once; pending operations complete with operation_aborted.
  void close();

  // TLS close_notify then close, bounded by `timeout`; errors are ignored because
  // the peer may already be gone.
  awaitable<void> shutdown(duration timeout);

  bool is_open() const;
  bool tls_active() const { return tls_active_; }
  std::uint64_t bytes_in() const { return bytes_in_; }
  std::uint64_t bytes_out() const { return bytes_out_; }

 private:
  deadline_guard make_guard(duration timeout);  // closes the socket on expiry

  std::shared_ptr<asio::ssl::context> tls_context_;
  asio::ssl::stream<asio::ip::tcp::socket> stream_;
  bool tls_active_ = false;
  std::uint64_t bytes_in_ = 0;
  std::uint64_t bytes_out_ = 0;
};

}  // namespace mailbroker::net
