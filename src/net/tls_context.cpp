#include "net/tls_context.hpp"

namespace mailbroker::net {

result<std::shared_ptr<asio::ssl::context>> make_client_tls_context(const tls_settings& settings) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1);
  error_code ec;
  if (!settings.ca_file.empty()) {
    ctx->load_verify_file(settings.ca_file, ec);
    if (ec) {
      return error{errc::failed_precondition,
                   "server.tls.ca_file: cannot load CA file '" + settings.ca_file + "': " + ec.message()};
    }
  } else {
    ctx->set_default_verify_paths(ec);
    if (ec) return error{errc::internal, "cannot load the system trust store: " + ec.message()};
  }
  ctx->set_verify_mode(settings.verify ? asio::ssl::verify_peer : asio::ssl::verify_none);
  return ctx;
}

}  // namespace mailbroker::net
