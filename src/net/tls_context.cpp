#include "net/tls_context.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cerrno>

#include "net/fd_budget.hpp"
#include "net/tls_context_cache.hpp"

namespace mailbroker::net {
namespace {

// The errno behind a failed load, if it was a system error: asio stores OpenSSL's first
// queued error as an int, and OpenSSL 3 records fopen() failures as system errors.
int system_errno_of(const error_code& ec) {
  if (ec.category() != asio::error::get_ssl_category()) return 0;
  const auto e = static_cast<unsigned long>(static_cast<unsigned int>(ec.value()));
  return ERR_SYSTEM_ERROR(e) ? ERR_GET_REASON(e) : 0;
}

// errno of opening `path` now, 0 if it opens. Tells EMFILE apart from a bad file when
// OpenSSL's own report is not a system error.
int open_errno(const char* path) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  ::close(fd);
  return 0;
}

}  // namespace

result<std::shared_ptr<asio::ssl::context>> build_client_tls_context(const tls_settings& settings) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1);
  SSL_CTX_set_mode(ctx->native_handle(), SSL_MODE_RELEASE_BUFFERS);
  error_code ec;
  if (!settings.ca_file.empty()) {
    ctx->load_verify_file(settings.ca_file, ec);
    if (ec) {
      int err = system_errno_of(ec);
      if (!fd_budget::is_exhaustion_errno(err)) err = open_errno(settings.ca_file.c_str());
      if (fd_budget::is_exhaustion_errno(err)) {
        return error{errc::resource_exhausted,
                     fd_budget::exhaustion_message(err) + " (while reading server.tls.ca_file '" + settings.ca_file + "')"};
      }
      return error{errc::failed_precondition,
                   "server.tls.ca_file: cannot load CA file '" + settings.ca_file + "': " + ec.message()};
    }
  } else if (settings.verify) {
    ctx->set_default_verify_paths(ec);
    if (ec) return error{errc::internal, "cannot load the system trust store: " + ec.message()};
    // A missing bundle is not an error to OpenSSL; one it could not open for lack of
    // descriptors must not become an empty trust store shared by every session.
    if (sk_X509_OBJECT_num(X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx->native_handle()))) == 0) {
      if (const int err = open_errno(X509_get_default_cert_file()); fd_budget::is_exhaustion_errno(err)) {
        return error{errc::resource_exhausted,
                     fd_budget::exhaustion_message(err) + " (while loading the system trust store)"};
      }
    }
  }
  ctx->set_verify_mode(settings.verify ? asio::ssl::verify_peer : asio::ssl::verify_none);
  return ctx;
}

result<std::shared_ptr<asio::ssl::context>> make_client_tls_context(const tls_settings& settings) {
  return tls_context_cache::process_wide().get(settings);
}

}  // namespace mailbroker::net
