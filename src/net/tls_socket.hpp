#pragma once
// An asynchronous TLS client on a connected TCP socket: OpenSSL reads and writes the
// (non-blocking) socket itself, and when it reports SSL_ERROR_WANT_READ/WANT_WRITE we
// wait for the socket with async_wait and call it again.
//
// Why not asio::ssl::stream: it keeps a BIO pair (two 17 KiB rings) and two 17 KiB
// record vectors per stream for the life of the connection (~68 KiB). Here OpenSSL owns
// the only buffers, and with SSL_MODE_RELEASE_BUFFERS (set on every SSL) it frees them
// whenever no record is half read or half written: an idle connection holds the SSL
// object, its session and cipher state, and no record buffers. Measured with
// bench/connection_memory_bench (2,000 idle logged-in IMAPS sessions against Dovecot):
// ~25 KiB per session in all, of which ~16 KiB is OpenSSL's (was ~77 KiB with Asio's).
//
// Usage (one strand):
//   tls_socket tls(std::move(connected_socket), ctx);
//   error e = co_await tls.handshake("imap.example.org", true, 30s);
//   co_await tls.write("a NOOP\r\n", 30s, ec);   // while a read_some() may be pending
//   n = co_await tls.read_some(buffer, ec);
//   co_await tls.shutdown(5s);                   // close_notify, then close
//
// Concurrency: not thread-safe; use from one strand. At most one read_some() and one
// write() may be outstanding at a time (the Asio stream rule); they never call OpenSSL at
// the same instant, only interleave. Either may need the other direction of the socket
// (a read may have to send, a write in a TLS 1.2 renegotiation has to receive), and
// either may consume bytes the other waits for: after each OpenSSL call the driver wakes
// the other side if it now has work without the socket becoming ready (see wake_*()).
// Renegotiation and TLS 1.3 KeyUpdate/NewSessionTicket are thus handled mid-stream.
//
// Errors (error_code): asio::error::eof for a close_notify from the peer,
// asio::ssl::error::stream_truncated for a TCP close without one, socket errors as the
// system reports them (connection_reset, timed_out, ...), OpenSSL errors in
// asio::error::get_ssl_category() (their text is OpenSSL's reason string), and
// operation_aborted after close() or cancel().
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include <openssl/ssl.h>

#include "common/error.hpp"
#include "net/asio.hpp"

namespace mailbroker::net {

class tls_socket {
 public:
  using duration = std::chrono::steady_clock::duration;

  // Takes the connected socket and makes an SSL object from `context` (shared, not
  // changed). If OpenSSL cannot allocate one, handshake() fails with internal.
  tls_socket(asio::ip::tcp::socket socket, SSL_CTX* context);
  ~tls_socket();
  tls_socket(const tls_socket&) = delete;
  tls_socket& operator=(const tls_socket&) = delete;

  // The client handshake, within `timeout` (on expiry the socket is closed). Sends
  // `server_name` as SNI unless it is an IP literal and, when `verify`, checks the chain
  // and that the certificate matches `server_name` (DNS name without partial wildcards,
  // or IP literal). Call at most once. Errors: failed_precondition when the certificate
  // does not verify (the message names the name and the fix); unavailable for a timeout
  // ("timed out"), a close() during the handshake ("aborted") and any other failure;
  // internal when there is no SSL object or the handshake was already started.
  awaitable<error> handshake(std::string server_name, bool verify, duration timeout);

  // Reads at least one byte of application data into `buffer` (no timeout; cancel() or
  // close() end a wait). Returns 0 with `ec` set on end of stream or error (see above).
  awaitable<std::size_t> read_some(asio::mutable_buffer buffer, error_code& ec);

  // Writes all of `data` within `timeout` and returns the bytes written. On timeout the
  // socket is closed and `ec` is asio::error::timed_out. `data` must stay valid until
  // this completes. cancel() does not interrupt a write.
  awaitable<std::size_t> write(std::string_view data, duration timeout, error_code& ec);

  // Sends close_notify (without waiting for the peer's), bounded by `timeout`, then
  // closes the socket. Errors are ignored: the peer may be gone already.
  awaitable<void> shutdown(duration timeout);

  // Ends a pending read_some() with operation_aborted; the connection stays usable
  // (nothing was half read: OpenSSL keeps partial records). Writes and the handshake go
  // on. With no read pending, it does nothing.
  void cancel();

  // Closes the socket at once: every pending operation (the handshake included) ends
  // with operation_aborted, and OpenSSL is not called on the descriptor again.
  void close();

  bool is_open() const { return socket_.is_open(); }
  asio::ip::tcp::socket& socket() { return socket_; }
  const asio::ip::tcp::socket& socket() const { return socket_; }
  // The OpenSSL handle (null if SSL_new failed): for reading the negotiated version and
  // the peer certificate. Do not change its settings.
  SSL* native_handle() { return ssl_; }

 private:
  // What a side (the reader, or the writer / handshake / shutdown) waits for.
  enum class waiting { no, readable, writable };

  // Waits as OpenSSL asked (`ssl_error` is WANT_READ or WANT_WRITE), recording it in
  // `me`. Returns false with `ec` set when the side must stop (socket closed, socket
  // error, or — for the reader — cancel()); true when OpenSSL should be called again.
  // An early wake-up (wake_other_side) or a cancel() meant for the reader is a retry.
  awaitable<bool> wait_for_socket(int ssl_error, waiting& me, bool is_reader, error_code& ec);
  // After an OpenSSL call by one side: if the other side waits for the socket although
  // this call already did its work (the writer buffered application data the reader
  // wants; the reader advanced a handshake the writer waits on), end that wait with
  // socket.cancel() so it calls OpenSSL again. Only the other side can be waiting then.
  void wake_other_side(bool caller_is_reader);
  // Maps a failed OpenSSL call (its SSL_get_error, and errno right after) to an error_code.
  error_code failure(int ssl_error, int saved_errno) const;

  asio::ip::tcp::socket socket_;
  SSL* ssl_ = nullptr;
  bool handshake_started_ = false;
  bool failed_ = false;           // a fatal OpenSSL error: no close_notify then
  bool read_cancelled_ = false;   // cancel() while a read_some() was outstanding
  waiting reader_ = waiting::no;
  waiting writer_ = waiting::no;  // write(), the handshake and shutdown (one at a time)
};

}  // namespace mailbroker::net
