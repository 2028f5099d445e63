#pragma once
// A TCP stream that starts plain or TLS and can be upgraded by STARTTLS/STLS: the one
// transport every mail protocol client uses.
//
// Memory: a plain connection is just a socket. The TLS state (net::tls_socket: an SSL
// object driven directly on the socket, whose record buffers OpenSSL frees whenever they
// are empty, so an idle TLS connection holds no record buffers) is created by
// start_tls(), which moves the socket into it. The TLS context is shared
// (make_client_tls_context) and only referenced here.
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
#include "net/connection_trace.hpp"
#include "net/deadline_guard.hpp"
#include "net/tls_socket.hpp"

namespace mailbroker::net {

class mail_stream {
 public:
  using duration = std::chrono::steady_clock::duration;

  // `tls_context` may be null for a stream that never starts TLS (start_tls then fails
  // with internal).
  mail_stream(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls_context);
  mail_stream(const mail_stream&) = delete;
  mail_stream& operator=(const mail_stream&) = delete;

  // Resolves `host` and connects to the first address that answers, all within
  // `timeout`. Errors: unavailable naming host:port and the cause (unknown host,
  // connection refused, timeout); deadline_exceeded when resolving times out;
  // resource_exhausted when the process (EMFILE) or system (ENFILE) is out of file
  // descriptors — "out of file descriptors (EMFILE): N open, limit M; raise
  // LimitNOFILE or lower max-sessions" — a transient condition, never a bad spec.
  awaitable<error> connect(const std::string& host, std::uint16_t port, duration timeout);

  // TLS handshake on the connected socket (implicit TLS, or after STARTTLS). Sends
  // `server_name` as SNI and, when `verify`, checks the chain and that the certificate
  // matches `server_name` (DNS name or IP literal). Creates the TLS state (see Memory
  // above); call at most once. Errors: failed_precondition for a certificate that does
  // not verify, unavailable for other handshake failures (a timeout, close() during the
  // handshake — which aborts it at once), internal without a context or when called twice.
  awaitable<error> start_tls(const std::string& server_name, bool verify, duration timeout);

  // Reads whatever is available (no timeout: an idle server is legitimate; callers
  // bound waits themselves and close() to abort). Returns 0 with ec set on EOF/error.
  awaitable<std::size_t> read_some(asio::mutable_buffer buffer, error_code& ec);

  // Before connect(): a peer that acknowledges nothing for `t` is dead, even while the
  // connection idles (a blackholed route, a crashed host). connect() then sets
  // SO_KEEPALIVE with TCP_KEEPIDLE = max(1, t/3) s, TCP_KEEPCNT <= 3 and TCP_KEEPINTVL
  // so that the probes end within t, and TCP_USER_TIMEOUT = t (data left unacknowledged),
  // so a pending read_some() fails with ETIMEDOUT within about t. 0 (the default) leaves
  // the system's settings (keepalive off, ~15 min of retransmissions). A peer whose
  // kernel still acknowledges (a hung server process) is not noticed this way: that needs
  // a command with a timeout.
  void set_dead_peer_timeout(std::chrono::seconds t) { dead_peer_timeout_ = t; }

  // Before connect(): records the phases of this connection into `trace` (resolved,
  // connected, TLS begun / done with the peer's certificate, first bytes read; see
  // net/connection_trace.hpp). Null (the default) records nothing. Behaviour is the same
  // either way; the trace only watches.
  void set_trace(std::shared_ptr<connection_trace> trace) { trace_ = std::move(trace); }

  // Writes all of `data` within `timeout`; on timeout the stream is closed and ec is
  // asio::error::timed_out.
  awaitable<void> write(std::string_view data, duration timeout, error_code& ec);

  // Closes the socket at once; pending operations complete with operation_aborted.
  void close();

  // Cancels a pending read (it completes with operation_aborted) and keeps the
  // connection; a later read_some() carries on where the stream was. Meant for a pending
  // read only: on a plain stream it cancels a pending write too (close the stream then),
  // on a TLS stream writes and the handshake go on (their timeouts bound them).
  void cancel();

  // TLS close_notify then close, bounded by `timeout`; errors are ignored because
  // the peer may already be gone.
  awaitable<void> shutdown(duration timeout);

  bool is_open() const;
  bool tls_active() const { return tls_active_; }
  // Whether the TLS state exists yet (start_tls was called). For tests and measurements.
  bool tls_allocated() const { return tls_ != nullptr; }
  // The socket's descriptor (-1 when closed). For tests (getsockopt).
  int native_handle() { return socket().is_open() ? static_cast<int>(socket().native_handle()) : -1; }
  std::uint64_t bytes_in() const { return bytes_in_; }
  std::uint64_t bytes_out() const { return bytes_out_; }
  // How long the last connect() spent resolving and connecting (for connection tests).
  std::chrono::microseconds resolve_time() const { return resolve_time_; }
  std::chrono::microseconds connect_time() const { return connect_time_; }
  // The OpenSSL handle once start_tls() was called, else null: for reading the
  // negotiated version and the peer certificate. Do not change its settings.
  SSL* tls_handle() { return tls_ ? tls_->native_handle() : nullptr; }

 private:

  deadline_guard make_guard(duration timeout);  // closes the socket on expiry
  // The socket wherever it lives now: socket_ until start_tls(), then inside tls_.
  asio::ip::tcp::socket& socket() { return tls_ ? tls_->socket() : socket_; }
  const asio::ip::tcp::socket& socket() const { return tls_ ? tls_->socket() : socket_; }

  std::shared_ptr<asio::ssl::context> tls_context_;
  asio::ip::tcp::socket socket_;     // moved-from (closed) once tls_ exists
  std::unique_ptr<tls_socket> tls_;  // null until start_tls()
  bool tls_active_ = false;
  std::chrono::seconds dead_peer_timeout_{0};
  std::shared_ptr<connection_trace> trace_;  // null unless set_trace()
  std::uint64_t bytes_in_ = 0;
  std::uint64_t bytes_out_ = 0;
  std::chrono::microseconds resolve_time_{0};
  std::chrono::microseconds connect_time_{0};
};

}  // namespace mailbroker::net
