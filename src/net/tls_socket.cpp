#include "net/tls_socket.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <cerrno>
#include <climits>
#include <cstdint>

#include "net/deadline_guard.hpp"

namespace mailbroker::net {
namespace {

using asio::redirect_error;

// A socket BIO of our own: OpenSSL's BIO_s_socket writes with write(2), which raises
// SIGPIPE on a connection the peer reset; send(MSG_NOSIGNAL) does not. The descriptor
// stays owned by the Asio socket (never closed here).
int descriptor_of(BIO* bio) { return static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(bio))); }

int bio_write(BIO* bio, const char* data, int size) {
  BIO_clear_retry_flags(bio);
  for (;;) {
    const ssize_t n = ::send(descriptor_of(bio), data, static_cast<std::size_t>(size), MSG_NOSIGNAL);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(bio);
    return -1;
  }
}

int bio_read(BIO* bio, char* out, int size) {
  BIO_clear_retry_flags(bio);
  for (;;) {
    const ssize_t n = ::recv(descriptor_of(bio), out, static_cast<std::size_t>(size), 0);
    if (n > 0) return static_cast<int>(n);
    if (n == 0) {
      BIO_set_flags(bio, BIO_FLAGS_IN_EOF);  // lets OpenSSL tell a truncation from a retry
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_read(bio);
    return -1;
  }
}

long bio_ctrl(BIO* bio, int command, long, void*) {
  switch (command) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_EOF:
      return BIO_test_flags(bio, BIO_FLAGS_IN_EOF) != 0 ? 1 : 0;
    case BIO_C_GET_FD:
      return descriptor_of(bio);
    default:
      return 0;
  }
}

int bio_create(BIO*) { return 1; }
int bio_destroy(BIO*) { return 1; }

const BIO_METHOD* socket_bio_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                 "mailbroker nosignal socket");
    if (m == nullptr) return m;
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_ctrl(m, bio_ctrl);
    BIO_meth_set_create(m, bio_create);
    BIO_meth_set_destroy(m, bio_destroy);
    return m;
  }();
  return method;
}

SSL* new_ssl(SSL_CTX* context, int fd) {
  if (context == nullptr || fd < 0) return nullptr;
  const BIO_METHOD* method = socket_bio_method();
  if (method == nullptr) return nullptr;
  SSL* ssl = SSL_new(context);
  if (ssl == nullptr) return nullptr;
  BIO* bio = BIO_new(method);
  if (bio == nullptr) {
    SSL_free(ssl);
    return nullptr;
  }
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)));
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl, bio, bio);  // one reference, owned by the SSL
  // Partial writes and a moving buffer: write() resumes where a short write ended.
  // RELEASE_BUFFERS: the record buffers go back to the heap whenever they are empty.
  SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  return ssl;
}

bool is_ip_literal(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

bool wants_socket(int ssl_error) { return ssl_error == SSL_ERROR_WANT_READ || ssl_error == SSL_ERROR_WANT_WRITE; }

}  // namespace

tls_socket::tls_socket(asio::ip::tcp::socket socket, SSL_CTX* context) : socket_(std::move(socket)) {
  error_code ignored;
  socket_.non_blocking(true, ignored);  // OpenSSL calls recv/send on it directly
  ssl_ = new_ssl(context, socket_.is_open() ? static_cast<int>(socket_.native_handle()) : -1);
}

tls_socket::~tls_socket() {
  close();
  if (ssl_ != nullptr) SSL_free(ssl_);
}

error_code tls_socket::failure(int ssl_error, int saved_errno) const {
  if (ssl_error == SSL_ERROR_ZERO_RETURN) return asio::error::eof;
  if (ssl_error == SSL_ERROR_SYSCALL) {
    if (ERR_peek_error() == 0) {
      return saved_errno != 0 ? error_code(saved_errno, boost::system::system_category())
                              : error_code(asio::ssl::error::stream_truncated);
    }
  }
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return asio::ssl::error::unspecified_system_error;
  if (ERR_GET_LIB(code) == ERR_LIB_SSL && ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
    return asio::ssl::error::stream_truncated;
  }
  return error_code(static_cast<int>(code), asio::error::get_ssl_category());
}

void tls_socket::wake_other_side(bool caller_is_reader) {
  const bool wake = caller_is_reader ? writer_ == waiting::readable
                                     : reader_ != waiting::no && SSL_pending(ssl_) > 0;
  if (!wake) return;
  error_code ignored;
  socket_.cancel(ignored);  // the other side sees operation_aborted with the socket open: a retry
}

awaitable<bool> tls_socket::wait_for_socket(int ssl_error, waiting& me, bool is_reader, error_code& ec) {
  const auto what = ssl_error == SSL_ERROR_WANT_READ ? asio::socket_base::wait_read : asio::socket_base::wait_write;
  me = what == asio::socket_base::wait_read ? waiting::readable : waiting::writable;
  error_code wait_ec;
  co_await socket_.async_wait(what, redirect_error(use_awaitable, wait_ec));
  me = waiting::no;
  if (!socket_.is_open()) {
    ec = asio::error::operation_aborted;
    co_return false;
  }
  if (is_reader && read_cancelled_) {  // also when the wait had completed before cancel()
    ec = asio::error::operation_aborted;
    co_return false;
  }
  if (wait_ec && wait_ec != asio::error::operation_aborted) {
    ec = wait_ec;
    co_return false;
  }
  co_return true;
}

awaitable<error> tls_socket::handshake(std::string server_name, bool verify, duration timeout) {
  if (ssl_ == nullptr) co_return error{errc::internal, "TLS: OpenSSL could not create a connection object"};
  if (handshake_started_) co_return error{errc::internal, "TLS: the handshake was already started"};
  handshake_started_ = true;

  const bool ip = is_ip_literal(server_name);
  // SSL_set_tlsext_host_name() spelled out: the macro hides an old-style cast.
  if (!ip) SSL_ctrl(ssl_, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, server_name.data());
  if (verify) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
    if (ip) {
      X509_VERIFY_PARAM_set1_ip_asc(param, server_name.c_str());
    } else {
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      SSL_set1_host(ssl_, server_name.c_str());
    }
  }

  error_code ec;
  bool expired = false;
  {
    deadline_guard guard(socket_.get_executor(), timeout, [this] { close(); });
    for (;;) {
      if (!socket_.is_open()) {
        ec = asio::error::operation_aborted;
        break;
      }
      ERR_clear_error();
      const int r = SSL_connect(ssl_);
      const int saved_errno = errno;
      if (r == 1) break;
      const int ssl_error = SSL_get_error(ssl_, r);
      if (!wants_socket(ssl_error)) {
        failed_ = true;
        ec = failure(ssl_error, saved_errno);
        break;
      }
      if (!co_await wait_for_socket(ssl_error, writer_, false, ec)) break;
    }
    expired = guard.expired();
  }
  if (expired) co_return error{errc::unavailable, "TLS handshake with " + server_name + " timed out"};
  if (!ec) co_return error::none();
  if (ec == asio::error::operation_aborted) {
    co_return error{errc::unavailable, "TLS handshake with '" + server_name + "' aborted: the connection was closed"};
  }
  const long verify_result = SSL_get_verify_result(ssl_);
  if (verify && verify_result != X509_V_OK) {
    co_return error{errc::failed_precondition,
                    "TLS certificate of '" + server_name + "' did not verify: " +
                        X509_verify_cert_error_string(verify_result) +
                        " (trust its CA with server.tls.ca_file, or set server.tls.server_name "
                        "to the name in the certificate)"};
  }
  co_return error{errc::unavailable, "TLS handshake with '" + server_name + "' failed: " + ec.message() +
                                         " (is server.tls_mode right for this port?)"};
}

awaitable<std::size_t> tls_socket::read_some(asio::mutable_buffer buffer, error_code& ec) {
  ec = {};
  read_cancelled_ = false;
  if (!socket_.is_open() || ssl_ == nullptr) {
    ec = asio::error::bad_descriptor;
    co_return 0;
  }
  if (buffer.size() == 0) co_return 0;
  for (;;) {
    ERR_clear_error();
    std::size_t n = 0;
    const int r = SSL_read_ex(ssl_, buffer.data(), buffer.size(), &n);
    const int saved_errno = errno;
    const int ssl_error = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_, r);
    wake_other_side(true);
    if (r == 1) co_return n;
    if (!wants_socket(ssl_error)) {
      if (ssl_error != SSL_ERROR_ZERO_RETURN) failed_ = true;
      ec = failure(ssl_error, saved_errno);
      co_return 0;
    }
    if (!co_await wait_for_socket(ssl_error, reader_, true, ec)) co_return 0;
  }
}

awaitable<std::size_t> tls_socket::write(std::string_view data, duration timeout, error_code& ec) {
  ec = {};
  if (!socket_.is_open() || ssl_ == nullptr) {
    ec = asio::error::bad_descriptor;
    co_return 0;
  }
  std::size_t done = 0;
  bool expired = false;
  {
    deadline_guard guard(socket_.get_executor(), timeout, [this] { close(); });
    while (done < data.size()) {
      if (!socket_.is_open()) {
        ec = asio::error::operation_aborted;
        break;
      }
      ERR_clear_error();
      std::size_t n = 0;
      const int r = SSL_write_ex(ssl_, data.data() + done, data.size() - done, &n);
      const int saved_errno = errno;
      const int ssl_error = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_, r);
      wake_other_side(false);
      if (r == 1) {
        done += n;
        continue;
      }
      if (!wants_socket(ssl_error)) {
        failed_ = true;
        ec = failure(ssl_error, saved_errno);
        break;
      }
      if (!co_await wait_for_socket(ssl_error, writer_, false, ec)) break;
    }
    expired = guard.expired();
  }
  if (expired) ec = asio::error::timed_out;
  co_return done;
}

awaitable<void> tls_socket::shutdown(duration timeout) {
  if (ssl_ != nullptr && socket_.is_open() && !failed_ && SSL_is_init_finished(ssl_)) {
    deadline_guard guard(socket_.get_executor(), timeout, [this] { close(); });
    for (;;) {
      ERR_clear_error();
      const int r = SSL_shutdown(ssl_);  // 0: our close_notify is sent; we do not wait for the peer's
      if (r >= 0) break;
      const int ssl_error = SSL_get_error(ssl_, r);
      if (ssl_error != SSL_ERROR_WANT_WRITE) break;
      error_code ec;
      if (!co_await wait_for_socket(ssl_error, writer_, false, ec)) break;
    }
    ERR_clear_error();
  }
  close();
}

void tls_socket::cancel() {
  if (reader_ == waiting::no) return;
  read_cancelled_ = true;
  error_code ignored;
  socket_.cancel(ignored);  // a waiting writer retries (see wait_for_socket)
}

void tls_socket::close() {
  error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace mailbroker::net
