#include "session/upstream.hpp"

namespace mailbroker::session {

// One file per protocol (imap_upstream.cpp, pop3_upstream.cpp, ews_upstream.cpp, graph_upstream.cpp).
std::shared_ptr<upstream> make_imap_upstream(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls,
                                             upstream_options options);
std::shared_ptr<upstream> make_pop3_upstream(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls,
                                             upstream_options options);

std::shared_ptr<upstream> make_ews_upstream(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls,
                                            upstream_options options);

std::shared_ptr<upstream> make_graph_upstream(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls,
                                              upstream_options options);

std::shared_ptr<upstream> make_upstream(protocol proto, asio::any_io_executor executor,
                                        std::shared_ptr<asio::ssl::context> tls_context, upstream_options options) {
  if (proto == protocol::pop3) return make_pop3_upstream(std::move(executor), std::move(tls_context), options);
  if (proto == protocol::ews) return make_ews_upstream(std::move(executor), std::move(tls_context), std::move(options));
  if (proto == protocol::graph) {
    return make_graph_upstream(std::move(executor), std::move(tls_context), std::move(options));
  }
  return make_imap_upstream(std::move(executor), std::move(tls_context), options);
}

}  // namespace mailbroker::session
