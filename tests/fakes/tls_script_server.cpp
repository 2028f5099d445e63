#include "fakes/tls_script_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <stdexcept>

#include "fakes/https_test_server.hpp"

namespace mailbroker::testing {
namespace {

void load_pem_identity(SSL_CTX* ctx, const std::string& cert_pem, const std::string& key_pem) {
  BIO* cert_bio = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  X509* cert = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
  BIO_free(cert_bio);
  BIO* key_bio = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
  BIO_free(key_bio);
  const bool ok = cert && key && SSL_CTX_use_certificate(ctx, cert) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1;
  X509_free(cert);
  EVP_PKEY_free(key);
  if (!ok) throw std::runtime_error("tls_script_server: cannot load the test certificate");
}

}  // namespace

std::string tls_script_connection::read_line() {
  for (;;) {
    if (auto end = pending_.find('\n'); end != std::string::npos) {
      std::string line = pending_.substr(0, end + 1);
      pending_.erase(0, end + 1);
      return line;
    }
    char chunk[4096];
    const int n = SSL_read(ssl_, chunk, sizeof chunk);
    if (n <= 0) return std::exchange(pending_, {});
    pending_.append(chunk, static_cast<std::size_t>(n));
  }
}

std::string tls_script_connection::read_exact(std::size_t n) {
  while (pending_.size() < n) {
    char chunk[16384];
    const int got = SSL_read(ssl_, chunk, sizeof chunk);
    if (got <= 0) break;
    pending_.append(chunk, static_cast<std::size_t>(got));
  }
  std::string out = pending_.substr(0, n);
  pending_.erase(0, out.size());
  return out;
}

bool tls_script_connection::write(const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    std::size_t n = 0;
    if (SSL_write_ex(ssl_, data.data() + done, data.size() - done, &n) != 1) return false;
    done += n;
  }
  return true;
}

void tls_script_connection::wait_for_close() {
  char c;
  while (SSL_read(ssl_, &c, 1) > 0) {
  }
}

tls_script_server::tls_script_server(script s, options opts) : script_(std::move(s)), options_(opts) {
  // The script writes with write(2) (SSL_set_fd): a client that left must not kill the
  // test process with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  const test_pki& pki = test_pki::get();
  ctx_ = SSL_CTX_new(TLS_server_method());
  if (ctx_ == nullptr) throw std::runtime_error("tls_script_server: SSL_CTX_new failed");
  SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
  if (options_.max_version != 0) SSL_CTX_set_max_proto_version(ctx_, options_.max_version);
  load_pem_identity(ctx_, pki.server_cert_pem, pki.server_key_pem);
  SSL_CTX_set_msg_callback(ctx_, &tls_script_server::on_message);

  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 4) != 0 || ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("tls_script_server: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { serve(); });
}

tls_script_server::~tls_script_server() {
  ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
  if (const int fd = conn_fd_.load(); fd >= 0) ::shutdown(fd, SHUT_RDWR);  // wakes SSL_read/SSL_write
  thread_.join();
  ::close(listen_fd_);
  SSL_CTX_free(ctx_);
}

void tls_script_server::on_message(int write_p, int, int content_type, const void* buf, std::size_t len, SSL*,
                                   void* arg) {
  if (write_p != 0 || content_type != SSL3_RT_HANDSHAKE || len == 0 || arg == nullptr) return;
  auto* self = static_cast<tls_script_server*>(arg);
  std::lock_guard lock(self->mutex_);
  ++self->received_[static_cast<const unsigned char*>(buf)[0]];
}

void tls_script_server::serve() {
  const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) return;
  conn_fd_ = fd;
  SSL* ssl = SSL_new(ctx_);
  SSL_set_msg_callback_arg(ssl, this);
  SSL_set_fd(ssl, fd);
  if (SSL_accept(ssl) == 1) {
    if (const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) {
      std::lock_guard lock(mutex_);
      sni_ = name;
    }
    tls_script_connection conn(ssl);
    script_(conn);
    if (options_.close_notify) SSL_shutdown(ssl);
    script_done_ = true;
  }
  ERR_clear_error();
  conn_fd_ = -1;
  ::close(fd);
  SSL_free(ssl);
}

std::string tls_script_server::sni() const {
  std::lock_guard lock(mutex_);
  return sni_;
}

int tls_script_server::handshake_messages_received(int type) const {
  std::lock_guard lock(mutex_);
  return type >= 0 && type < 256 ? received_[type] : 0;
}

}  // namespace mailbroker::testing
